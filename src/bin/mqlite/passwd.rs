//! `mqlite passwd`: mosquitto_passwd's command line, for a host without
//! the mosquitto package. The files it writes are mosquitto_passwd's
//! (`$7$` PBKDF2-SHA512 with 101 iterations by default), which mqlite and
//! mosquitto both read; the edits themselves are in `passwd_file`.
//!
//! ```text
//! mqlite passwd [-H sha512 | -H sha512-pbkdf2] [-I N] [-c | -D] FILE USER
//! mqlite passwd [-H ...] [-I N] [-c] -b FILE USER PASSWORD
//! mqlite passwd [-H ...] [-I N] -U FILE
//! ```
//!
//! Without `-b` the password is asked twice; on a terminal it is not
//! echoed. One difference: `-U` leaves entries that are already hashed
//! alone, where mosquitto_passwd hashes their hash again.

use std::io::{BufRead, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::passwd_file::{self, Hashing};

/// The usage text, as `mqlite passwd -h` and a bad command line print it.
const USAGE: &str = "\
mqlite passwd manages password files for mqlite and mosquitto, as mosquitto_passwd does.

Usage: mqlite passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] passwordfile username
       mqlite passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b passwordfile username password
       mqlite passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] -U passwordfile
 -b : batch mode: the password is the last argument (it shows in `ps` and the shell's history).
 -c : create a new password file, replacing an existing one.
 -D : delete the username rather than adding or updating its password.
 -H : the hash: sha512-pbkdf2 ($7$, the default, recommended) or sha512 ($6$, mosquitto 1.x).
 -I : PBKDF2 iterations (default 101, as mosquitto_passwd).
 -U : hash the plain-text passwords of a file (entries already hashed are kept).
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// Add or update `user`, with this password or one asked for.
    Set {
        user: String,
        password: Option<String>,
        create: bool,
    },
    Delete {
        user: String,
    },
    Upgrade,
    Help,
}

#[derive(Debug, PartialEq, Eq)]
struct Request {
    file: PathBuf,
    action: Action,
    hashing: Hashing,
}

/// Runs `mqlite passwd ARGS...`: 0 on success, 1 on any error (as
/// mosquitto_passwd), with the error on stderr.
pub fn main(args: &[String]) -> ExitCode {
    let request = match parse(args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("Error: {message}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match run(request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut batch = false;
    let mut create = false;
    let mut delete = false;
    let mut upgrade = false;
    let mut hashing = Hashing::Pbkdf2(mqlite::auth::DEFAULT_ITERATIONS);
    let mut iterations = None;
    let mut rest = args.iter();
    let mut positional = Vec::new();
    while let Some(arg) = rest.next() {
        // Options come first, as for mosquitto_passwd: after the file
        // name, `-x` is a user name or a password.
        if !positional.is_empty() {
            positional.push(arg.clone());
            continue;
        }
        match arg.as_str() {
            "-b" => batch = true,
            "-c" => create = true,
            "-D" => delete = true,
            "-U" => upgrade = true,
            "-h" | "--help" => {
                return Ok(Request {
                    file: PathBuf::new(),
                    action: Action::Help,
                    hashing,
                })
            }
            "-H" => {
                hashing = match rest.next().map(String::as_str) {
                    Some("sha512-pbkdf2") => Hashing::Pbkdf2(mqlite::auth::DEFAULT_ITERATIONS),
                    Some("sha512") => Hashing::Sha512,
                    Some(other) => return Err(format!("unknown hash `{other}`")),
                    None => return Err("-H needs a hash name".to_string()),
                }
            }
            "-I" => {
                let text = rest.next().ok_or("-I needs a number of iterations")?;
                iterations = Some(
                    text.parse::<NonZeroU32>()
                        .map_err(|_| format!("invalid number of iterations `{text}`"))?,
                );
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option `{flag}`"))
            }
            _ => positional.push(arg.clone()),
        }
    }
    if let (Hashing::Pbkdf2(_), Some(n)) = (hashing, iterations) {
        hashing = Hashing::Pbkdf2(n);
    }
    if create && delete {
        return Err("-c and -D cannot be used together".to_string());
    }
    if upgrade && (create || delete || batch) {
        return Err("-U cannot be used with -b, -c or -D".to_string());
    }
    let expected = match (upgrade, batch) {
        (true, _) => 1,
        (false, true) => 3,
        (false, false) => 2,
    };
    if positional.len() != expected {
        return Err(format!(
            "expected {expected} arguments after the options, found {}",
            positional.len()
        ));
    }
    let mut positional = positional.into_iter();
    let file = PathBuf::from(positional.next().unwrap_or_default());
    let user = positional.next().unwrap_or_default();
    let action = if upgrade {
        Action::Upgrade
    } else if delete {
        Action::Delete { user }
    } else {
        Action::Set {
            user,
            password: positional.next(),
            create,
        }
    };
    Ok(Request {
        file,
        action,
        hashing,
    })
}

/// The longest user name or password the broker can be given (an MQTT
/// string).
const MAX_LEN: usize = 65_535;

fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("empty username".to_string());
    }
    if user.contains(':') {
        return Err("Username must not contain the ':' character.".to_string());
    }
    if user.len() > MAX_LEN || user.contains(['\n', '\r']) {
        return Err("invalid username".to_string());
    }
    Ok(())
}

fn read_file(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file)
        .map_err(|error| format!("Unable to open password file {}: {error}", file.display()))
}

fn run(request: Request) -> Result<(), String> {
    let Request {
        file,
        action,
        hashing,
    } = request;
    match action {
        Action::Help => {
            print!("{USAGE}");
            Ok(())
        }
        Action::Upgrade => {
            let (text, hashed) = passwd_file::upgrade(&read_file(&file)?, hashing)?;
            passwd_file::write(&file, &text)?;
            eprintln!("{hashed} password(s) hashed in {}", file.display());
            Ok(())
        }
        Action::Delete { user } => {
            check_user(&user)?;
            let text = read_file(&file)?;
            let Some(text) = passwd_file::delete(&text, &user) else {
                return Err(format!("User {user} not found in password file."));
            };
            passwd_file::write(&file, &text)
        }
        Action::Set {
            user,
            password,
            create,
        } => {
            check_user(&user)?;
            // Read before asking, so that a missing file fails at once.
            let text = if create {
                String::new()
            } else {
                read_file(&file)?
            };
            let password = match password {
                Some(password) => password,
                None => ask_password()?,
            };
            if password.is_empty() {
                return Err("Empty password.".to_string());
            }
            if password.len() > MAX_LEN {
                return Err("password longer than 65535 bytes".to_string());
            }
            let hash = hashing.hash(password.as_bytes())?;
            passwd_file::write(&file, &passwd_file::set(&text, &user, &hash))
        }
    }
}

/// Asks for the password twice on stdin; on a terminal, without echo.
fn ask_password() -> Result<String, String> {
    let first = prompt("Password: ")?;
    let second = prompt("Reenter password: ")?;
    if first != second {
        return Err("Passwords do not match.".to_string());
    }
    Ok(first)
}

fn prompt(text: &str) -> Result<String, String> {
    // Echo off before the prompt shows: what is typed after it is never
    // echoed (and type-ahead from before it is dropped, as getpass does).
    let _echo = Echo::off();
    let mut out = std::io::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the password: {error}"))?;
    if read == 0 {
        return Err("no password given (end of input)".to_string());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The terminal's echo, turned off while a password is typed and back on
/// when dropped. `None` when stdin is not a terminal.
struct Echo(libc::termios);

impl Echo {
    fn off() -> Option<Echo> {
        // SAFETY: isatty, tcgetattr and tcsetattr only read and write the
        // termios struct given, for fd 0.
        unsafe {
            if libc::isatty(libc::STDIN_FILENO) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut quiet = saved;
            // The Enter still shows, so the next prompt starts a line.
            quiet.c_lflag = (quiet.c_lflag & !libc::ECHO) | libc::ECHONL;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &quiet) != 0 {
                return None;
            }
            Some(Echo(saved))
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        // SAFETY: puts back the settings read in `off`.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Request, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn mosquitto_passwd_command_lines() {
        let r = parsed(&["-c", "-b", "pw", "alice", "secret"]).unwrap();
        assert_eq!(r.file, PathBuf::from("pw"));
        assert_eq!(r.hashing, Hashing::Pbkdf2(mqlite::auth::DEFAULT_ITERATIONS));
        assert_eq!(
            r.action,
            Action::Set {
                user: "alice".into(),
                password: Some("secret".into()),
                create: true
            }
        );
        let r = parsed(&["-H", "sha512", "pw", "bob"]).unwrap();
        assert_eq!(r.hashing, Hashing::Sha512);
        assert!(matches!(
            r.action,
            Action::Set {
                password: None,
                create: false,
                ..
            }
        ));
        let r = parsed(&["-I", "1000", "-b", "pw", "u", "p"]).unwrap();
        assert_eq!(r.hashing, Hashing::Pbkdf2(NonZeroU32::new(1000).unwrap()));
        assert_eq!(
            parsed(&["-D", "pw", "bob"]).unwrap().action,
            Action::Delete { user: "bob".into() }
        );
        assert_eq!(parsed(&["-U", "pw"]).unwrap().action, Action::Upgrade);
        assert_eq!(parsed(&["-h"]).unwrap().action, Action::Help);
    }

    #[test]
    fn bad_command_lines_say_why() {
        for (args, why) in [
            (&["-c", "-D", "pw", "u"][..], "-c and -D"),
            (&["pw"][..], "expected 2 arguments"),
            (&["-b", "pw", "u"][..], "expected 3 arguments"),
            (&["-U", "pw", "u"][..], "expected 1 argument"),
            (&["-U", "-c", "pw"][..], "-U cannot"),
            (&["-H", "md5", "pw", "u"][..], "unknown hash"),
            (&["-I", "0", "pw", "u"][..], "iterations"),
            (&["-x", "pw", "u"][..], "unknown option"),
        ] {
            let error = parsed(args).unwrap_err();
            assert!(error.contains(why), "{args:?}: {error}");
        }
        assert!(check_user("a:b").unwrap_err().contains("':'"));
        assert!(check_user("").is_err());
    }
}
