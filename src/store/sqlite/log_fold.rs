//! What becomes of each op of the log when it is compacted: dropped (its
//! effect undone later in the log), applied to the tables, or carried into
//! the next log (a message still in flight, too young to be worth a table
//! row yet).

use super::log_codec::Logged;

/// The fate of one logged op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Undone later in the log: nothing to do.
    Drop,
    /// Applied to the tables.
    Table,
    /// Written again, into the log that follows.
    Carry,
}

/// What [`fold`] decided about a run of logged ops.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Fold {
    /// The fate of each op, in order.
    pub(super) fates: Vec<Fate>,
    /// Bodies stored before the run that a dropped queue entry referred
    /// to: deleted after the fold if nothing holds them any more.
    pub(super) bodies_to_check: Vec<u64>,
}

/// A queue entry added in the run and not deleted in it.
struct LiveEntry {
    message_id: u64,
    add: usize,
    /// Its sent and released ops.
    later: Vec<usize>,
}

/// A body referred to in the run: where it was stored (if in the run), and
/// its references added, dropped and young in the run.
#[derive(Default)]
struct BodyRefs {
    stored_at: Option<usize>,
    added: u32,
    dropped: u32,
    young_live: u32,
}

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Decides the fate of each op of a run; the ops from `young_from` on are
/// the young part (`ops.len()`: none, everything that stays goes to the
/// tables).
///
/// - A queue entry added and deleted in the run never reaches the tables:
///   its add, sent, released and delete ops are all dropped.
/// - A body stored in the run all of whose references were dropped is
///   dropped too; one stored earlier is checked after the fold.
/// - A queue entry added in the young part and still there is carried,
///   with its body, when the body was stored in the young part and every
///   reference to it that stays is such an entry (so no table row ever
///   refers to a body in the log, nor the other way round). An entry is
///   young once: carried, it is in the older part of the next log.
/// - An inbound QoS 2 id added and then removed in the run: the add is
///   dropped (the remove stays, and removes nothing or an older row, as
///   the two together would have).
/// - Of the retained-message changes of a topic, only the last counts.
pub(super) fn fold(ops: &[Logged<'_>], young_from: usize) -> Fold {
    let mut fates = vec![Fate::Table; ops.len()];
    let mut live: FastMap<(&str, u64), LiveEntry> = FastMap::default();
    let mut bodies: FastMap<u64, BodyRefs> = FastMap::default();
    let mut inbound: FastMap<(&str, u16), usize> = FastMap::default();
    let mut retained: FastMap<&str, usize> = FastMap::default();
    for (index, op) in ops.iter().enumerate() {
        match *op {
            Logged::MessageStore { id, .. } => {
                bodies.entry(id).or_default().stored_at = Some(index);
            }
            Logged::Add {
                client_id,
                seq,
                message_id,
                ..
            } => {
                bodies.entry(message_id).or_default().added += 1;
                live.insert(
                    (client_id, seq),
                    LiveEntry {
                        message_id,
                        add: index,
                        later: Vec::new(),
                    },
                );
            }
            Logged::Sent { client_id, seq, .. } | Logged::Released { client_id, seq } => {
                if let Some(entry) = live.get_mut(&(client_id, seq)) {
                    // Rare: most sends are logged with their add.
                    entry.later.push(index);
                }
            }
            Logged::Delete { client_id, seq } => {
                if let Some(entry) = live.remove(&(client_id, seq)) {
                    fates[entry.add] = Fate::Drop;
                    for op in entry.later {
                        fates[op] = Fate::Drop;
                    }
                    fates[index] = Fate::Drop;
                    bodies.entry(entry.message_id).or_default().dropped += 1;
                }
            }
            Logged::InboundAdd {
                client_id,
                packet_id,
            } => {
                inbound.insert((client_id, packet_id), index);
            }
            Logged::InboundRemove {
                client_id,
                packet_id,
            } => {
                if let Some(add) = inbound.remove(&(client_id, packet_id)) {
                    fates[add] = Fate::Drop;
                }
            }
            Logged::RetainSet { topic, .. } | Logged::RetainDelete { topic } => {
                if let Some(earlier) = retained.insert(topic, index) {
                    fates[earlier] = Fate::Drop;
                }
            }
        }
    }
    for entry in live.values() {
        if entry.add >= young_from {
            bodies.entry(entry.message_id).or_default().young_live += 1;
        }
    }
    let carried = |refs: &BodyRefs| {
        let staying = refs.added - refs.dropped;
        refs.stored_at.is_some_and(|at| at >= young_from)
            && staying > 0
            && refs.young_live == staying
    };
    for entry in live.values() {
        if bodies.get(&entry.message_id).is_some_and(carried) {
            fates[entry.add] = Fate::Carry;
            for &op in &entry.later {
                fates[op] = Fate::Carry;
            }
        }
    }
    let mut bodies_to_check = Vec::new();
    for (id, refs) in &bodies {
        match refs.stored_at {
            Some(at) if carried(refs) => fates[at] = Fate::Carry,
            Some(at) if refs.dropped > 0 && refs.dropped == refs.added => fates[at] = Fate::Drop,
            Some(_) => {}
            None if refs.dropped > 0 => bodies_to_check.push(*id),
            None => {}
        }
    }
    bodies_to_check.sort_unstable();
    Fold {
        fates,
        bodies_to_check,
    }
}

#[cfg(test)]
mod tests {
    use super::Fate::{Carry, Drop, Table};
    use super::*;

    fn add(client_id: &str, seq: u64, message_id: u64) -> Logged<'_> {
        Logged::Add {
            client_id,
            seq,
            message_id,
            flags: 1,
            sent: None,
        }
    }

    fn store(id: u64) -> Logged<'static> {
        Logged::MessageStore { id, message: b"" }
    }

    fn sent(client_id: &str, seq: u64) -> Logged<'_> {
        Logged::Sent {
            client_id,
            seq,
            packet_id: 1,
        }
    }

    fn delete(client_id: &str, seq: u64) -> Logged<'_> {
        Logged::Delete { client_id, seq }
    }

    #[test]
    fn a_whole_life_in_the_log_folds_away() {
        let ops = [
            store(1),
            add("a", 1, 1),
            sent("a", 1),
            add("b", 1, 1),
            delete("a", 1),
            store(2),
            add("a", 2, 2),
            delete("a", 2),
            // Stored before the log.
            delete("a", 0),
            add("c", 9, 0),
            Logged::Released {
                client_id: "c",
                seq: 9,
            },
            delete("c", 9),
        ];
        let fold = fold(&ops, ops.len());
        assert_eq!(
            fold.fates,
            [Table, Drop, Drop, Table, Drop, Drop, Drop, Drop, Table, Drop, Drop, Drop]
        );
        assert_eq!(fold.bodies_to_check, [0]);
    }

    #[test]
    fn young_entries_still_in_flight_are_carried() {
        let ops = [
            // Old, acknowledged below: gone.
            store(1),
            add("a", 1, 1),
            sent("a", 1),
            // Old and still queued, its body also held by a young entry
            // below: everything on that body to the tables.
            store(3),
            add("a", 3, 3),
            // The young part.
            // In flight: carried with its body.
            store(2),
            add("a", 2, 2),
            sent("a", 2),
            add("b", 1, 3),
            // Acknowledged: gone.
            store(4),
            add("a", 4, 4),
            delete("a", 4),
            // On a body stored before the log: tables.
            add("a", 5, 0),
            delete("a", 1),
        ];
        let fold = fold(&ops, 5);
        assert_eq!(
            fold.fates,
            [
                Drop, Drop, Drop, Table, Table, Carry, Carry, Carry, Table, Drop, Drop, Drop,
                Table, Drop
            ]
        );
        assert!(fold.bodies_to_check.is_empty());
    }

    #[test]
    fn inbound_and_retained_changes_fold() {
        let ops = [
            Logged::InboundRemove {
                client_id: "a",
                packet_id: 1,
            },
            Logged::InboundAdd {
                client_id: "a",
                packet_id: 2,
            },
            Logged::InboundRemove {
                client_id: "a",
                packet_id: 2,
            },
            Logged::InboundAdd {
                client_id: "a",
                packet_id: 3,
            },
            Logged::RetainSet {
                topic: "t",
                message: b"",
            },
            Logged::RetainDelete { topic: "t" },
            Logged::RetainSet {
                topic: "u",
                message: b"",
            },
        ];
        assert_eq!(
            fold(&ops, ops.len()).fates,
            [Table, Drop, Table, Table, Drop, Table, Table]
        );
    }
}
