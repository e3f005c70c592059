//! Error passing from the C++ shims in `csrc/` (`csrc/guarded.h`): an entry point that fails
//! returns non-zero and hands over its message as a `malloc`'ed NUL-terminated string.

use std::ffi::{CStr, c_char};

/// Takes the message a failed shim call left in `err` (`null` gives "unknown error") and frees
/// it.
///
/// # Safety
/// `err` is null or a string the shim allocated with `malloc` and has not freed; it is not used
/// after this call.
pub(crate) unsafe fn take_message(err: *mut c_char) -> String {
    if err.is_null() {
        return "unknown error".to_owned();
    }
    // SAFETY: per the contract above, a live NUL-terminated malloc'ed string, freed once here.
    unsafe {
        let msg = CStr::from_ptr(err).to_string_lossy().trim().to_owned();
        libc::free(err.cast());
        msg
    }
}
