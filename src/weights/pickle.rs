//! A small, safe pickle reader: just enough of the pickle virtual machine to read weight files.
//!
//! It understands the opcodes that `pickle` protocols 2–5 emit for plain data (dicts, lists,
//! tuples, strings, numbers, bytes) plus `GLOBAL`/`REDUCE`/`BUILD`/`BINPERSID`, which it never
//! executes: a global stays a [`Value::Global`] and a call stays a [`Value::Reduce`], so a
//! malicious file cannot run code. Interpreting those (a numpy array, a torch tensor) is the job
//! of [`super::numpy`] and [`super::torch_pth`].
//!
//! Containers are shared through `Rc` so that the memo sees the mutations that `SETITEMS`,
//! `APPENDS` and `BUILD` make after an object was memoised.

use std::collections::HashMap;
use std::rc::Rc;

/// What went wrong while reading a pickle stream.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error("pickle ends early (at byte {0}): the file is truncated")]
    Truncated(usize),
    #[error("unsupported pickle opcode 0x{op:02x} at byte {pos}")]
    Opcode { op: u8, pos: usize },
    #[error("malformed pickle at byte {pos}: {msg}")]
    Malformed { pos: usize, msg: String },
}

/// A decoded pickle value. Calls and globals are kept as data, never executed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Rc<Vec<u8>>),
    Tuple(Vec<Rc<Value>>),
    List(Vec<Rc<Value>>),
    Dict(Vec<(Rc<Value>, Rc<Value>)>),
    /// `module.name`, as pushed by `GLOBAL` / `STACK_GLOBAL`.
    Global {
        module: String,
        name: String,
    },
    /// `callable(*args)`, as pushed by `REDUCE` / `NEWOBJ`.
    Reduce {
        callable: Rc<Value>,
        args: Rc<Value>,
    },
    /// `obj.__setstate__(state)`, as done by `BUILD`.
    Build {
        obj: Rc<Value>,
        state: Rc<Value>,
    },
    /// A persistent id (torch uses these for tensor storages).
    PersistentId(Rc<Value>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The integer, if this is one (bools count as 0/1 like in Python).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    /// The items of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Rc<Value>]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
    /// True for the global `module.name`.
    pub fn is_global(&self, module: &str, name: &str) -> bool {
        matches!(self, Value::Global { module: m, name: n } if m == module && n == name)
    }
    /// Short description for error messages.
    pub fn kind(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::List(_) => "list".into(),
            Value::Dict(_) => "dict".into(),
            Value::Global { module, name } => format!("global {module}.{name}"),
            Value::Reduce { callable, .. } => format!("call of {}", callable.kind()),
            Value::Build { obj, .. } => format!("built {}", obj.kind()),
            Value::PersistentId(_) => "persistent id".into(),
        }
    }
}

enum Slot {
    Mark,
    Val(Rc<Value>),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Slot>,
    memo: HashMap<u32, Rc<Value>>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Truncated(self.pos))?;
        if end > self.data.len() {
            return Err(PickleError::Truncated(self.data.len()));
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or(PickleError::Truncated(self.data.len()))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn err(&self, msg: impl Into<String>) -> PickleError {
        PickleError::Malformed { pos: self.pos, msg: msg.into() }
    }
    fn push(&mut self, v: Value) {
        self.stack.push(Slot::Val(Rc::new(v)));
    }
    fn pop(&mut self) -> Result<Rc<Value>, PickleError> {
        match self.stack.pop() {
            Some(Slot::Val(v)) => Ok(v),
            Some(Slot::Mark) => Err(self.err("unexpected mark")),
            None => Err(self.err("stack underflow")),
        }
    }
    fn top(&self) -> Result<&Rc<Value>, PickleError> {
        match self.stack.last() {
            Some(Slot::Val(v)) => Ok(v),
            _ => Err(self.err("stack underflow")),
        }
    }
    /// Pops everything down to the last mark.
    fn pop_mark(&mut self) -> Result<Vec<Rc<Value>>, PickleError> {
        let at =
            self.stack.iter().rposition(|s| matches!(s, Slot::Mark)).ok_or_else(|| self.err("no mark on the stack"))?;
        let items = self
            .stack
            .drain(at..)
            .skip(1)
            .map(|s| match s {
                Slot::Val(v) => v,
                Slot::Mark => unreachable!("rposition found the last mark"),
            })
            .collect();
        Ok(items)
    }
    /// Replaces the top of the stack by `new`, and every memo entry that was the old object.
    fn replace_top(&mut self, new: Value) -> Result<(), PickleError> {
        let old = self.pop()?;
        let new = Rc::new(new);
        for v in self.memo.values_mut() {
            if Rc::ptr_eq(v, &old) {
                *v = new.clone();
            }
        }
        self.stack.push(Slot::Val(new));
        Ok(())
    }
    fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }
    fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        let v = self.memo.get(&key).cloned().ok_or_else(|| self.err(format!("memo key {key} not set")))?;
        self.stack.push(Slot::Val(v));
        Ok(())
    }
    fn extend(&mut self, items: Vec<Rc<Value>>) -> Result<(), PickleError> {
        let new = match &**self.top()? {
            Value::List(v) => {
                let mut v = v.clone();
                v.extend(items);
                Value::List(v)
            }
            other => return Err(self.err(format!("append to a {}", other.kind()))),
        };
        self.replace_top(new)
    }
    fn set_items(&mut self, items: Vec<Rc<Value>>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of dict items"));
        }
        let pairs = items.chunks(2).map(|c| (c[0].clone(), c[1].clone()));
        let new = match &**self.top()? {
            Value::Dict(d) => {
                let mut d = d.clone();
                d.extend(pairs);
                Value::Dict(d)
            }
            other => return Err(self.err(format!("setitem on a {}", other.kind()))),
        };
        self.replace_top(new)
    }

    fn run(&mut self) -> Result<Rc<Value>, PickleError> {
        loop {
            let op_pos = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.u64()?; // FRAME: framing is only a hint for buffered readers
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.stack.push(Slot::Mark),
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.push(Value::Int(v))
                }
                b'K' => {
                    let v = self.u8()? as i64;
                    self.push(Value::Int(v))
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.push(Value::Int(v))
                }
                0x8a => {
                    // LONG1: little-endian two's complement of n bytes
                    let n = self.u8()? as usize;
                    let bytes = self.take(n)?;
                    if n > 8 {
                        // Only torch's legacy magic number is that long; keep its low bits.
                        let mut v: i64 = 0;
                        for (i, b) in bytes.iter().take(8).enumerate() {
                            v |= (*b as i64) << (8 * i);
                        }
                        self.push(Value::Int(v));
                    } else {
                        let mut buf = if bytes.last().is_some_and(|b| b & 0x80 != 0) { [0xff; 8] } else { [0; 8] };
                        buf[..n].copy_from_slice(bytes);
                        self.push(Value::Int(i64::from_le_bytes(buf)));
                    }
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    self.push(Value::Float(v))
                }
                b'X' | 0x8c | 0x8d => {
                    // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                    let n = match op {
                        b'X' => self.u32()? as usize,
                        0x8c => self.u8()? as usize,
                        _ => self.u64()? as usize,
                    };
                    let s = std::str::from_utf8(self.take(n)?).map_err(|_| self.err("string is not UTF-8"))?;
                    self.push(Value::Str(s.to_owned()))
                }
                b'T' | b'U' => {
                    // BINSTRING, SHORT_BINSTRING: protocol-2 byte strings, decoded latin-1 by
                    // numpy's `encoding='latin1'` convention; kept as bytes.
                    let n = if op == b'T' { self.u32()? as usize } else { self.u8()? as usize };
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(Rc::new(b)))
                }
                b'B' | b'C' | 0x8e => {
                    // BINBYTES, SHORT_BINBYTES, BINBYTES8
                    let n = match op {
                        b'B' => self.u32()? as usize,
                        b'C' => self.u8()? as usize,
                        _ => self.u64()? as usize,
                    };
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(Rc::new(b)))
                }
                b')' => self.push(Value::Tuple(vec![])),
                b']' => self.push(Value::List(vec![])),
                b'}' => self.push(Value::Dict(vec![])),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Dict(vec![]));
                    self.set_items(items)?;
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(items))
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memo_put(k)?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.memo_get(k)?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Value::Global { module, name })
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module.as_str(), name.as_str()) {
                        (Some(m), Some(n)) => self.push(Value::Global { module: m.into(), name: n.into() }),
                        _ => return Err(self.err("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let empty_args = args.as_seq().is_some_and(|a| a.is_empty());
                    if callable.is_global("collections", "OrderedDict") && empty_args {
                        // An ordered dict is a dict here; its items arrive with SETITEMS.
                        self.push(Value::Dict(vec![]))
                    } else {
                        self.push(Value::Reduce { callable, args })
                    }
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?.clone();
                    self.replace_top(Value::Build { obj, state })?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.push(Value::PersistentId(pid))
                }
                b'0' => {
                    self.pop()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(Slot::Val(v));
                }
                _ => return Err(PickleError::Opcode { op, pos: op_pos }),
            }
        }
    }
}

/// Reads one pickle from the start of `data`; returns the value and the bytes it used.
pub fn read(data: &[u8]) -> Result<(Rc<Value>, usize), PickleError> {
    let mut m = Machine { data, pos: 0, stack: Vec::new(), memo: HashMap::new() };
    let v = m.run()?;
    Ok((v, m.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protocol3_dict_with_shared_memo() {
        // pickle.dumps({'a': [1, 2], 'b': 'x'}, protocol=3)
        let data =
            b"\x80\x03}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02eX\x01\x00\x00\x00bq\x03X\x01\x00\x00\x00xq\x04u.";
        let (v, used) = read(data).unwrap();
        assert_eq!(used, data.len());
        let Value::Dict(items) = &*v else { panic!("not a dict: {v:?}") };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].0.as_str(), Some("a"));
        let list = items[0].1.as_seq().unwrap();
        assert_eq!(list.iter().map(|v| v.as_int().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(items[1].1.as_str(), Some("x"));
    }

    #[test]
    fn memo_sees_mutations_after_put() {
        // x = []; pickle.dumps([x, x]) after x.append(7): the second reference is a BINGET.
        let data = b"\x80\x03]q\x00(]q\x01K\x07ah\x01e.";
        let (v, _) = read(data).unwrap();
        let outer = v.as_seq().unwrap();
        assert_eq!(outer[0], outer[1]);
        assert_eq!(outer[1].as_seq().unwrap()[0].as_int(), Some(7));
    }

    #[test]
    fn truncated_and_foreign_inputs_are_errors() {
        let data = b"\x80\x03}q\x00(X\x01\x00\x00\x00aq\x01";
        assert!(matches!(read(data), Err(PickleError::Truncated(_))));
        assert!(read(b"").is_err());
        assert!(matches!(read(b"\xffhello"), Err(PickleError::Opcode { op: 0xff, .. })));
        assert!(read(b"e.").is_err());
    }
}
