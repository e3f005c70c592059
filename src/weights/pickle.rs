//! A small, safe pickle reader: just enough of the pickle virtual machine to read weight files.
//!
//! It understands the opcodes that `pickle` protocols 2–5 emit for plain data (dicts, lists,
//! tuples, strings, numbers, bytes) plus `GLOBAL`/`REDUCE`/`BUILD`/`BINPERSID`, which it never
//! executes: a global stays a [`Value::Global`] and a call stays a [`Value::Reduce`], so a
//! malicious file cannot run code. Interpreting those (a numpy array, a torch tensor) is the job
//! of [`super::numpy`] and [`super::torch_pth`].
//!
//! While reading, objects live in an arena and are changed in place (`APPEND`, `SETITEMS`,
//! `BUILD` are O(1), and the memo sees the changes); at `STOP` the arena becomes an immutable
//! tree of [`Value`]s that shares what the pickle shares. A hostile file cannot make the
//! reader allocate more than a small multiple of its own size, loop, or recurse without
//! bound: cycles and nesting deeper than `MAX_DEPTH` are errors.

use std::collections::HashMap;
use std::rc::Rc;

/// Deepest nesting of containers accepted (weight files nest a few levels).
pub(crate) const MAX_DEPTH: usize = 200;

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
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    /// The items of a tuple or list.
    pub(crate) fn as_seq(&self) -> Option<&[Rc<Value>]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
    /// True for the global `module.name`.
    pub(crate) fn is_global(&self, module: &str, name: &str) -> bool {
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

/// The opcodes this reader knows (pickle protocols 2–5, as CPython's `pickletools` names them),
/// grouped by what they do.
mod op {
    /// `NAME = byte, …` → one `pub(crate) const NAME: u8` each.
    macro_rules! opcodes {
        ($($name:ident = $code:expr),+ $(,)?) => { $(pub(crate) const $name: u8 = $code;)+ };
    }
    // Framing, the end, and stack bookkeeping.
    opcodes! { PROTO = 0x80, FRAME = 0x95, STOP = b'.', MARK = b'(', POP = b'0', DUP = b'2' }
    // Scalars.
    opcodes! {
        NONE = b'N', NEWTRUE = 0x88, NEWFALSE = 0x89, BINFLOAT = b'G',
        BININT = b'J', BININT1 = b'K', BININT2 = b'M', LONG1 = 0x8a,
    }
    // Text and bytes: 1-, 4- and 8-byte lengths.
    opcodes! {
        SHORT_BINUNICODE = 0x8c, BINUNICODE = b'X', BINUNICODE8 = 0x8d,
        SHORT_BINSTRING = b'U', BINSTRING = b'T',
        SHORT_BINBYTES = b'C', BINBYTES = b'B', BINBYTES8 = 0x8e,
    }
    // Containers: empty ones, built from the stack down to a mark, or filled in place.
    opcodes! {
        EMPTY_TUPLE = b')', EMPTY_LIST = b']', EMPTY_DICT = b'}',
        TUPLE = b't', LIST = b'l', DICT = b'd', TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87,
        APPEND = b'a', APPENDS = b'e', SETITEM = b's', SETITEMS = b'u',
    }
    // The memo.
    opcodes! { BINPUT = b'q', LONG_BINPUT = b'r', MEMOIZE = 0x94, BINGET = b'h', LONG_BINGET = b'j' }
    // Objects: classes by name, calls, state, and torch's storages (persistent ids).
    opcodes! { GLOBAL = b'c', STACK_GLOBAL = 0x93, REDUCE = b'R', NEWOBJ = 0x81, BUILD = b'b', BINPERSID = b'Q' }
}

/// An object under construction; containers refer to others by index.
#[derive(Debug, Clone)]
enum Node {
    Leaf(Value),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Reduce { callable: usize, args: usize },
    Build { obj: usize, state: usize },
    PersistentId(usize),
}

enum Slot {
    Mark,
    Obj(usize),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    arena: Vec<Node>,
    stack: Vec<Slot>,
    memo: HashMap<u32, usize>,
}

type Step = Result<(), PickleError>;

impl<'a> Machine<'a> {
    // ---- reading the stream ----
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Truncated(self.pos))?;
        if end > self.data.len() {
            return Err(PickleError::Truncated(self.data.len()));
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// A length prefix, checked against what is left of the stream.
    fn len(&mut self, size: usize) -> Result<usize, PickleError> {
        let n = match size {
            1 => self.u8()? as u64,
            4 => self.u32()? as u64,
            _ => self.u64()?,
        };
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.data.len() - self.pos)
            .ok_or(PickleError::Truncated(self.data.len()))
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

    // ---- the stack and the arena ----
    fn push(&mut self, n: Node) {
        self.arena.push(n);
        self.stack.push(Slot::Obj(self.arena.len() - 1));
    }
    fn push_value(&mut self, v: Value) {
        self.push(Node::Leaf(v));
    }
    fn pop(&mut self) -> Result<usize, PickleError> {
        match self.stack.pop() {
            Some(Slot::Obj(i)) => Ok(i),
            Some(Slot::Mark) => Err(self.err("unexpected mark")),
            None => Err(self.err("stack underflow")),
        }
    }
    fn top(&self) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(Slot::Obj(i)) => Ok(*i),
            _ => Err(self.err("stack underflow")),
        }
    }
    /// Pops everything down to the last mark.
    fn pop_mark(&mut self) -> Result<Vec<usize>, PickleError> {
        let at =
            self.stack.iter().rposition(|s| matches!(s, Slot::Mark)).ok_or_else(|| self.err("no mark on the stack"))?;
        Ok(self
            .stack
            .drain(at..)
            .skip(1)
            .map(|s| match s {
                Slot::Obj(i) => i,
                Slot::Mark => unreachable!("rposition found the last mark"),
            })
            .collect())
    }
    fn leaf(&self, i: usize) -> Option<&Value> {
        match &self.arena[i] {
            Node::Leaf(v) => Some(v),
            _ => None,
        }
    }

    // ---- opcodes, by concern ----
    fn scalar(&mut self, code: u8) -> Step {
        let v = match code {
            op::BININT => Value::Int(self.u32()? as i32 as i64),
            op::BININT1 => Value::Int(self.u8()? as i64),
            op::BININT2 => Value::Int(self.u16()? as i64),
            op::LONG1 => {
                // Little-endian two's complement of n bytes.
                let n = self.u8()? as usize;
                let bytes = self.take(n)?;
                if n > 8 {
                    // Only torch's legacy magic number is that long; keep its low bits.
                    Value::Int(bytes.iter().take(8).enumerate().fold(0i64, |v, (i, b)| v | (*b as i64) << (8 * i)))
                } else {
                    let mut buf = if bytes.last().is_some_and(|b| b & 0x80 != 0) { [0xff; 8] } else { [0; 8] };
                    buf[..n].copy_from_slice(bytes);
                    Value::Int(i64::from_le_bytes(buf))
                }
            }
            op::BINFLOAT => Value::Float(f64::from_be_bytes(self.array()?)),
            op::NEWTRUE => Value::Bool(true),
            op::NEWFALSE => Value::Bool(false),
            _ => Value::None,
        };
        self.push_value(v);
        Ok(())
    }

    fn text(&mut self, code: u8) -> Step {
        let v = match code {
            op::BINUNICODE | op::SHORT_BINUNICODE | op::BINUNICODE8 => {
                let n = self.len(match code {
                    op::SHORT_BINUNICODE => 1,
                    op::BINUNICODE => 4,
                    _ => 8,
                })?;
                let s = std::str::from_utf8(self.take(n)?).map_err(|_| self.err("string is not UTF-8"))?;
                Value::Str(s.to_owned())
            }
            // Protocol-2 byte strings (numpy decodes them latin-1) and bytes: kept as bytes.
            _ => {
                let n = self.len(match code {
                    op::SHORT_BINSTRING | op::SHORT_BINBYTES => 1,
                    op::BINSTRING | op::BINBYTES => 4,
                    _ => 8,
                })?;
                Value::Bytes(Rc::new(self.take(n)?.to_vec()))
            }
        };
        self.push_value(v);
        Ok(())
    }

    fn container(&mut self, code: u8) -> Step {
        match code {
            op::EMPTY_TUPLE => self.push(Node::Tuple(vec![])),
            op::EMPTY_LIST => self.push(Node::List(vec![])),
            op::EMPTY_DICT => self.push(Node::Dict(vec![])),
            op::TUPLE => {
                let items = self.pop_mark()?;
                self.push(Node::Tuple(items))
            }
            op::LIST => {
                let items = self.pop_mark()?;
                self.push(Node::List(items))
            }
            op::DICT => {
                let items = self.pop_mark()?;
                self.push(Node::Dict(vec![]));
                self.set_items(items)?;
            }
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = (code - op::TUPLE1 + 1) as usize;
                let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
                items.reverse();
                self.push(Node::Tuple(items))
            }
            op::APPEND => {
                let v = self.pop()?;
                self.extend(vec![v])?;
            }
            op::APPENDS => {
                let items = self.pop_mark()?;
                self.extend(items)?;
            }
            op::SETITEM => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?;
            }
            _ => {
                let items = self.pop_mark()?;
                self.set_items(items)?;
            }
        }
        Ok(())
    }

    fn extend(&mut self, items: Vec<usize>) -> Step {
        let top = self.top()?;
        match &mut self.arena[top] {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(self.err("append to something that is not a list")),
        }
    }

    fn set_items(&mut self, items: Vec<usize>) -> Step {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of dict items"));
        }
        let top = self.top()?;
        match &mut self.arena[top] {
            Node::Dict(d) => {
                d.extend(items.chunks(2).map(|c| (c[0], c[1])));
                Ok(())
            }
            _ => Err(self.err("setitem on something that is not a dict")),
        }
    }

    fn memo(&mut self, code: u8) -> Step {
        match code {
            op::BINPUT | op::LONG_BINPUT | op::MEMOIZE => {
                let key = match code {
                    op::BINPUT => self.u8()? as u32,
                    op::LONG_BINPUT => self.u32()?,
                    _ => self.memo.len() as u32,
                };
                let top = self.top()?;
                self.memo.insert(key, top);
            }
            _ => {
                let key = if code == op::BINGET { self.u8()? as u32 } else { self.u32()? };
                let i = *self.memo.get(&key).ok_or_else(|| self.err(format!("memo key {key} not set")))?;
                self.stack.push(Slot::Obj(i));
            }
        }
        Ok(())
    }

    fn object(&mut self, code: u8) -> Step {
        match code {
            op::GLOBAL => {
                let module = self.line()?;
                let name = self.line()?;
                self.push_value(Value::Global { module, name })
            }
            op::STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (self.leaf(module).and_then(Value::as_str), self.leaf(name).and_then(Value::as_str)) {
                    (Some(m), Some(n)) => {
                        let v = Value::Global { module: m.into(), name: n.into() };
                        self.push_value(v)
                    }
                    _ => return Err(self.err("STACK_GLOBAL needs two strings")),
                }
            }
            op::REDUCE | op::NEWOBJ => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let empty_args = matches!(&self.arena[args], Node::Tuple(v) if v.is_empty());
                if self.leaf(callable).is_some_and(|c| c.is_global("collections", "OrderedDict")) && empty_args {
                    // An ordered dict is a dict here; its items arrive with SETITEMS.
                    self.push(Node::Dict(vec![]))
                } else {
                    self.push(Node::Reduce { callable, args })
                }
            }
            op::BUILD => {
                // In place, so that every reference to the object (stack, memo) sees it built.
                let state = self.pop()?;
                let obj = self.top()?;
                let moved = std::mem::replace(&mut self.arena[obj], Node::Leaf(Value::None));
                self.arena.push(moved);
                self.arena[obj] = Node::Build { obj: self.arena.len() - 1, state };
            }
            _ => {
                let pid = self.pop()?;
                self.push(Node::PersistentId(pid))
            }
        }
        Ok(())
    }

    fn run(&mut self) -> Result<usize, PickleError> {
        loop {
            let at = self.pos;
            let code = self.u8()?;
            match code {
                op::PROTO => {
                    self.u8()?;
                }
                op::FRAME => {
                    self.u64()?; // framing is only a hint for buffered readers
                }
                op::STOP => return self.pop(),
                op::MARK => self.stack.push(Slot::Mark),
                op::NONE
                | op::NEWTRUE
                | op::NEWFALSE
                | op::BININT
                | op::BININT1
                | op::BININT2
                | op::LONG1
                | op::BINFLOAT => self.scalar(code)?,
                op::BINUNICODE
                | op::SHORT_BINUNICODE
                | op::BINUNICODE8
                | op::BINSTRING
                | op::SHORT_BINSTRING
                | op::BINBYTES
                | op::SHORT_BINBYTES
                | op::BINBYTES8 => self.text(code)?,
                op::EMPTY_TUPLE
                | op::EMPTY_LIST
                | op::EMPTY_DICT
                | op::TUPLE
                | op::LIST
                | op::DICT
                | op::TUPLE1
                | op::TUPLE2
                | op::TUPLE3
                | op::APPEND
                | op::APPENDS
                | op::SETITEM
                | op::SETITEMS => self.container(code)?,
                op::BINPUT | op::LONG_BINPUT | op::MEMOIZE | op::BINGET | op::LONG_BINGET => self.memo(code)?,
                op::GLOBAL | op::STACK_GLOBAL | op::REDUCE | op::NEWOBJ | op::BUILD | op::BINPERSID => {
                    self.object(code)?
                }
                op::POP => {
                    self.pop()?;
                }
                op::DUP => {
                    let i = self.top()?;
                    self.stack.push(Slot::Obj(i));
                }
                _ => return Err(PickleError::Opcode { op: code, pos: at }),
            }
        }
    }

    /// The arena object `i` as a [`Value`] tree; shared objects stay shared.
    fn freeze(
        &self,
        i: usize,
        done: &mut HashMap<usize, Rc<Value>>,
        open: &mut Vec<usize>,
    ) -> Result<Rc<Value>, PickleError> {
        if let Some(v) = done.get(&i) {
            return Ok(v.clone());
        }
        if open.contains(&i) {
            return Err(self.err("the pickle contains a cycle"));
        }
        if open.len() >= MAX_DEPTH {
            return Err(self.err(format!("containers nested deeper than {MAX_DEPTH}")));
        }
        open.push(i);
        let mut f = |j: usize| self.freeze(j, done, open);
        let v = match &self.arena[i] {
            Node::Leaf(v) => v.clone(),
            Node::Tuple(items) => Value::Tuple(items.iter().map(|j| f(*j)).collect::<Result<_, _>>()?),
            Node::List(items) => Value::List(items.iter().map(|j| f(*j)).collect::<Result<_, _>>()?),
            Node::Dict(items) => {
                Value::Dict(items.iter().map(|(k, v)| Ok((f(*k)?, f(*v)?))).collect::<Result<_, _>>()?)
            }
            Node::Reduce { callable, args } => Value::Reduce { callable: f(*callable)?, args: f(*args)? },
            Node::Build { obj, state } => Value::Build { obj: f(*obj)?, state: f(*state)? },
            Node::PersistentId(p) => Value::PersistentId(f(*p)?),
        };
        open.pop();
        let v = Rc::new(v);
        done.insert(i, v.clone());
        Ok(v)
    }
}

/// Reads one pickle from the start of `data`; returns the value and the bytes it used.
pub fn read(data: &[u8]) -> Result<(Rc<Value>, usize), PickleError> {
    let mut m = Machine { data, pos: 0, arena: Vec::new(), stack: Vec::new(), memo: HashMap::new() };
    let root = m.run()?;
    let v = m.freeze(root, &mut HashMap::new(), &mut Vec::new())?;
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
        assert!(Rc::ptr_eq(&outer[0], &outer[1]), "shared objects stay shared");
        assert_eq!(outer[1].as_seq().unwrap()[0].as_int(), Some(7));
    }

    #[test]
    fn truncated_and_foreign_inputs_are_errors() {
        let data = b"\x80\x03}q\x00(X\x01\x00\x00\x00aq\x01";
        assert!(matches!(read(data), Err(PickleError::Truncated(_))));
        assert!(read(b"").is_err());
        assert!(matches!(read(b"\xffhello"), Err(PickleError::Opcode { op: 0xff, .. })));
        assert!(read(b"e.").is_err());
        // A length prefix larger than the file is refused before anything is allocated.
        assert!(matches!(read(b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f."), Err(PickleError::Truncated(_))));
    }

    #[test]
    fn cycles_deep_nesting_and_many_appends_are_bounded() {
        // l = []; l.append(l): a list that contains itself.
        assert!(read(b"]q\x00h\x00a.").unwrap_err().to_string().contains("cycle"));
        // 10 000 nested lists.
        let mut deep = b"]".repeat(10_000);
        deep.extend(b"a".repeat(9_999));
        deep.push(b'.');
        assert!(read(&deep).unwrap_err().to_string().contains("deeper"));
        // A million single appends is linear work.
        let mut many = b"](".to_vec();
        many.extend(b"K\x01".repeat(1_000_000));
        many.extend(b"e.");
        let t0 = std::time::Instant::now();
        assert_eq!(read(&many).unwrap().0.as_seq().unwrap().len(), 1_000_000);
        let mut single = b"]".to_vec();
        single.extend(b"K\x01a".repeat(300_000));
        single.push(b'.');
        assert_eq!(read(&single).unwrap().0.as_seq().unwrap().len(), 300_000);
        assert!(t0.elapsed().as_secs() < 10, "{:?}", t0.elapsed());
    }
}
