//! fjall's errors, told to people.
//!
//! fjall prints its errors as their debug form (`FjallError: Io(Os { code: 20, .. })`)
//! and gives the inner error as their source as well, so a CLI error chain named the
//! cause twice in Rust syntax. The engine's error enums print [`describe`] instead and
//! give no source: one readable sentence, once.

/// A readable account of `e`: the I/O error's own message when there is one, a hint for
/// the cases an operator can act on, fjall's debug form for the rest (a bug report needs
/// it verbatim).
#[must_use]
pub fn describe(e: &fjall::Error) -> String {
    match e {
        fjall::Error::Io(io) | fjall::Error::Storage(fjall::LsmError::Io(io)) => io.to_string(),
        fjall::Error::Locked => {
            "the data folder is locked: another process has it open (is another `pricing` running on it?)".into()
        }
        fjall::Error::Poisoned => {
            "an earlier write to disk failed; no more writes are accepted (restart to recover from the journal)".into()
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_their_own_message_and_a_lock_says_what_to_check() {
        let io = std::io::Error::from_raw_os_error(20);
        assert_eq!(describe(&fjall::Error::Io(io)), "Not a directory (os error 20)");
        let nested = fjall::Error::Storage(fjall::LsmError::Io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(describe(&nested), "No space left on device (os error 28)");
        assert!(describe(&fjall::Error::Locked).contains("another process has it open"));
        assert_eq!(describe(&fjall::Error::Unrecoverable), "Unrecoverable");
    }
}
