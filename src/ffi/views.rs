//! The views lent to a running callback, per thread, so that an accessor
//! (`mqlite_client_info_transport()`, ...) can tell a pointer the library
//! lent from anything else and refuse it instead of reading through it.
//!
//! The callback structs of mqlite 0.1 are frozen: what a client, a CONNECT,
//! a message or an event gains later is read through accessor functions
//! that take the pointer the callback was given. Such a pointer only says
//! where the frozen struct is; the accessor needs the Rust value behind it.
//! The adapters in `callbacks.rs` record, for the length of each call, the
//! address of every view they lend with the Rust value it shows, and the
//! accessors look the address up here. A copy of a view, a pointer kept
//! after its callback returned, or one used on another thread is not found
//! and is refused with `MQLITE_INVALID_ARGUMENT` rather than read out of
//! bounds.

use std::cell::RefCell;

use super::result::{Failure, MQLITE_INVALID_ARGUMENT};
use super::types::{mqlite_client_info, mqlite_connect_info, mqlite_event, mqlite_message};
use crate::core::Message;
use crate::hooks::{ClientInfo, ConnectInfo, Event};

/// What a lent view shows, which fixes the type of its Rust value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ViewKind {
    /// An `mqlite_client_info`; the value is a `ClientInfo`.
    Client,
    /// An `mqlite_connect_info`; the value is a [`ConnectValue`].
    Connect,
    /// An `mqlite_message`; the value is a `Message`.
    Message,
    /// An `mqlite_event`; the value is an `Event`.
    Event,
}

/// The Rust value behind a lent `mqlite_connect_info`: the CONNECT (or
/// AUTH step) itself, the client view made from it for
/// `mqlite_connect_info_client()`, and the reply data the callback sets
/// with `mqlite_connect_info_set_reply_data()` for a CONTINUE or
/// ACCEPT_WITH_DATA answer.
pub(crate) struct ConnectValue<'a> {
    pub(crate) client: *const mqlite_client_info,
    pub(crate) info: &'a ConnectInfo<'a>,
    pub(crate) reply: RefCell<Option<Vec<u8>>>,
}

/// One lent view: where it is, what it shows, and the value behind it.
#[derive(Clone, Copy)]
pub(crate) struct Lent {
    address: usize,
    kind: ViewKind,
    value: *const (),
}

impl Lent {
    /// `view`, of kind `kind`, showing `value`, whose type `kind` fixes:
    /// only the typed constructors below pair them.
    fn new<V, T>(kind: ViewKind, view: &V, value: &T) -> Lent {
        Lent {
            address: view as *const V as usize,
            kind,
            value: (value as *const T).cast(),
        }
    }

    pub(crate) fn client(view: &mqlite_client_info, value: &ClientInfo<'_>) -> Lent {
        Lent::new(ViewKind::Client, view, value)
    }

    pub(crate) fn connect(view: &mqlite_connect_info, value: &ConnectValue<'_>) -> Lent {
        Lent::new(ViewKind::Connect, view, value)
    }

    pub(crate) fn message(view: &mqlite_message, value: &Message) -> Lent {
        Lent::new(ViewKind::Message, view, value)
    }

    pub(crate) fn event(view: &mqlite_event, value: &Event<'_>) -> Lent {
        Lent::new(ViewKind::Event, view, value)
    }
}

thread_local! {
    /// The views lent on this thread, innermost call last.
    static LENT: RefCell<Vec<Lent>> = const { RefCell::new(Vec::new()) };
}

/// Withdraws the views of one call when dropped, even if the call unwinds.
struct Withdraw(usize);

impl Drop for Withdraw {
    fn drop(&mut self) {
        let _ = LENT.try_with(|lent| {
            if let Ok(mut lent) = lent.try_borrow_mut() {
                let keep = lent.len().saturating_sub(self.0);
                lent.truncate(keep);
            }
        });
    }
}

/// Runs `call` (the C callback) with `views` lent; they are withdrawn when
/// it returns. The views and their values must outlive the call, which the
/// borrows of [`Lent::new`] at the call site ensure.
pub(crate) fn lending<R>(views: &[Lent], call: impl FnOnce() -> R) -> R {
    let pushed = LENT
        .try_with(|lent| match lent.try_borrow_mut() {
            Ok(mut lent) => {
                lent.extend_from_slice(views);
                views.len()
            }
            Err(_) => 0,
        })
        .unwrap_or(0);
    let _withdraw = Withdraw(pushed);
    call()
}

/// The value behind `view` if it is a view of `kind` lent on this thread
/// now. The innermost lending wins, should an address repeat.
pub(crate) fn find<V>(view: *const V, kind: ViewKind) -> Option<*const ()> {
    let address = view as usize;
    LENT.try_with(|lent| {
        lent.try_borrow().ok().and_then(|lent| {
            lent.iter()
                .rev()
                .find(|entry| entry.address == address && entry.kind == kind)
                .map(|entry| entry.value)
        })
    })
    .ok()
    .flatten()
}

/// The refusal of a pointer that is not a view lent on this thread now.
fn not_lent(what: &str) -> Failure {
    Failure::new(
        MQLITE_INVALID_ARGUMENT,
        format!(
            "`{what}` is not a pointer a running callback was given on this thread \
             (copies, and pointers kept after the callback returned, are refused)"
        ),
    )
}

/// The client behind a lent `mqlite_client_info`.
///
/// # Safety
/// The reference must not be kept past the exported call that asked: it
/// is valid while the callback that was lent the view runs.
pub(crate) unsafe fn client<'a>(
    view: *const mqlite_client_info,
    what: &str,
) -> Result<&'a ClientInfo<'a>, Failure> {
    if view.is_null() {
        return Err(Failure::null(what));
    }
    let value = find(view, ViewKind::Client).ok_or_else(|| not_lent(what))?;
    // SAFETY: lent as `ViewKind::Client`, whose value is a `ClientInfo`
    // that lives until the callback returns, which it has not.
    Ok(unsafe { &*value.cast::<ClientInfo<'a>>() })
}

/// The CONNECT behind a lent `mqlite_connect_info`.
///
/// # Safety
/// As for [`client`].
pub(crate) unsafe fn connect<'a>(
    view: *const mqlite_connect_info,
    what: &str,
) -> Result<&'a ConnectValue<'a>, Failure> {
    if view.is_null() {
        return Err(Failure::null(what));
    }
    let value = find(view, ViewKind::Connect).ok_or_else(|| not_lent(what))?;
    // SAFETY: lent as `ViewKind::Connect`, whose value is a `ConnectValue`
    // that lives until the callback returns, which it has not.
    Ok(unsafe { &*value.cast::<ConnectValue<'a>>() })
}

/// The message behind a lent `mqlite_message`.
///
/// # Safety
/// As for [`client`].
pub(crate) unsafe fn message<'a>(
    view: *const mqlite_message,
    what: &str,
) -> Result<&'a Message, Failure> {
    if view.is_null() {
        return Err(Failure::null(what));
    }
    let value = find(view, ViewKind::Message).ok_or_else(|| not_lent(what))?;
    // SAFETY: lent as `ViewKind::Message`, whose value is a `Message` that
    // lives until the callback returns, which it has not.
    Ok(unsafe { &*value.cast::<Message>() })
}

/// The event behind a lent `mqlite_event`.
///
/// # Safety
/// As for [`client`].
pub(crate) unsafe fn event<'a>(
    view: *const mqlite_event,
    what: &str,
) -> Result<&'a Event<'a>, Failure> {
    if view.is_null() {
        return Err(Failure::null(what));
    }
    let value = find(view, ViewKind::Event).ok_or_else(|| not_lent(what))?;
    // SAFETY: lent as `ViewKind::Event`, whose value is an `Event` that
    // lives until the callback returns, which it has not.
    Ok(unsafe { &*value.cast::<Event<'a>>() })
}
