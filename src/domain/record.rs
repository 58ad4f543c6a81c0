//! How token operations are recorded on a bond's ledger, and read back.
//!
//! Every entry that moves tokens states its effect in `data` explicitly (parties by id,
//! quantities as decimal strings), so that a ledger can be replayed — to rebuild state, and by
//! `midori verify` to re-check supply and balances — without the rules, the registry or a clock.

use serde_json::{Value, json};

use super::book::{Op, Outcome};

/// Entry types that change the holder book.
pub const TOKEN_ENTRY_KINDS: &[&str] = &[
    "token.issued",
    "token.issuance_closed",
    "token.transferred",
    "token.transfer_pending",
    "token.transfer_approved",
    "token.transfer_cancelled",
    "token.frozen",
    "token.unfrozen",
    "bond.paused",
    "bond.unpaused",
    "token.forced_transfer",
    "token.redeemed",
    "bond.redeemed",
];

/// Members of an entry's `data` that list one line per party, and the member naming the party.
const PER_PARTY_LINES: &[(&str, &str)] = &[
    ("allocations", "investor"),
    ("redemptions", "holder"),
    ("payments", "holder"),
];

/// `data` with only `party`'s own lines in its per-party lists (an issuance's allocations, a
/// full redemption's redemptions, a coupon's payments), and whether any line was removed.
pub fn only_lines_of(mut data: Value, party: &str) -> (Value, bool) {
    let mut removed = false;
    for (list, who) in PER_PARTY_LINES {
        if let Some(Value::Array(lines)) = data.get_mut(*list) {
            let before = lines.len();
            lines.retain(|line| line.get(*who).and_then(Value::as_str) == Some(party));
            removed |= lines.len() != before;
        }
    }
    (data, removed)
}

/// The entry type, its `data` and the parties it concerns, for an applied operation.
/// `pending` is the pending transfer (for approvals and cancellations, looked up before apply).
pub fn record(
    op: &Op,
    outcome: &Outcome,
    operation_id: &str,
    reason: Option<&str>,
    pending: Option<&super::book::Pending>,
) -> (String, Value, Vec<String>) {
    let q = |n: &u64| n.to_string();
    let with_reason = |mut v: Value| {
        if let Some(r) = reason {
            v["reason"] = Value::String(r.to_owned());
        }
        v["operation_id"] = Value::String(operation_id.to_owned());
        v
    };
    match op {
        Op::Issue { allocations } => (
            "token.issued".into(),
            with_reason(
                json!({ "allocations": allocations.iter().map(|(p, n)| json!({"investor": p, "quantity": q(n)})).collect::<Vec<_>>() }),
            ),
            allocations.iter().map(|(p, _)| p.clone()).collect(),
        ),
        Op::CloseIssuance => (
            "token.issuance_closed".into(),
            with_reason(json!({})),
            vec![],
        ),
        Op::Transfer { from, to, quantity } => {
            let kind = if *outcome == Outcome::Pending {
                "token.transfer_pending"
            } else {
                "token.transferred"
            };
            (
                kind.into(),
                with_reason(json!({"from": from, "to": to, "quantity": q(quantity)})),
                vec![from.clone(), to.clone()],
            )
        }
        Op::Approve { pending: id } | Op::Cancel { pending: id } => {
            let kind = if matches!(op, Op::Approve { .. }) {
                "token.transfer_approved"
            } else {
                "token.transfer_cancelled"
            };
            let (from, to, quantity) = pending
                .map(|p| (p.from.clone(), p.to.clone(), p.quantity))
                .unwrap_or_default();
            (
                kind.into(),
                with_reason(
                    json!({"pending_id": id, "from": from, "to": to, "quantity": q(&quantity)}),
                ),
                vec![from, to],
            )
        }
        Op::Freeze { holder, quantity } | Op::Unfreeze { holder, quantity } => {
            let kind = if matches!(op, Op::Freeze { .. }) {
                "token.frozen"
            } else {
                "token.unfrozen"
            };
            let mut data = json!({"holder": holder});
            if let Some(n) = quantity {
                data["quantity"] = Value::String(q(n));
            }
            (kind.into(), with_reason(data), vec![holder.clone()])
        }
        Op::Pause => ("bond.paused".into(), with_reason(json!({})), vec![]),
        Op::Unpause => ("bond.unpaused".into(), with_reason(json!({})), vec![]),
        Op::ForcedTransfer { from, to, quantity } => (
            "token.forced_transfer".into(),
            with_reason(json!({"from": from, "to": to, "quantity": q(quantity)})),
            vec![from.clone(), to.clone()],
        ),
        Op::Redeem { holder, quantity } => (
            "token.redeemed".into(),
            with_reason(json!({"holder": holder, "quantity": q(quantity)})),
            vec![holder.clone()],
        ),
        Op::RedeemAll => {
            let redeemed = match outcome {
                Outcome::Redeemed(list) => list.clone(),
                _ => Vec::new(),
            };
            (
                "bond.redeemed".into(),
                with_reason(
                    json!({"redemptions": redeemed.iter().map(|(p, n)| json!({"holder": p, "quantity": q(n)})).collect::<Vec<_>>()}),
                ),
                redeemed.into_iter().map(|(p, _)| p).collect(),
            )
        }
    }
}

/// The operation an entry recorded, with the pending id a pending transfer was given.
/// `Ok(None)` for entries that do not touch the book (registration, documents, …).
pub fn replay(kind: &str, data: &Value) -> Result<Option<(Op, Option<String>)>, String> {
    let s = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{kind}: `{key}` missing"))
    };
    let n = |key: &str| -> Result<u64, String> {
        let text = s(key)?;
        canonical_u64(&text).ok_or_else(|| format!("{kind}: `{key}` is not a canonical decimal"))
    };
    let opt_n = |key: &str| -> Result<Option<u64>, String> {
        if data.get(key).is_some() {
            n(key).map(Some)
        } else {
            Ok(None)
        }
    };
    let list = |key: &str, party: &str| -> Result<Vec<(String, u64)>, String> {
        data.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{kind}: `{key}` missing"))?
            .iter()
            .map(|a| {
                let p = a
                    .get(party)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{kind}: `{party}` missing"))?;
                let q = a
                    .get("quantity")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{kind}: `quantity` missing"))?;
                Ok((
                    p.to_owned(),
                    canonical_u64(q).ok_or_else(|| {
                        format!("{kind}: quantity {q:?} is not a canonical decimal")
                    })?,
                ))
            })
            .collect()
    };
    let op = match kind {
        "token.issued" => Op::Issue {
            allocations: list("allocations", "investor")?,
        },
        "token.issuance_closed" => Op::CloseIssuance,
        "token.transferred" => Op::Transfer {
            from: s("from")?,
            to: s("to")?,
            quantity: n("quantity")?,
        },
        "token.transfer_pending" => {
            return Ok(Some((
                Op::Transfer {
                    from: s("from")?,
                    to: s("to")?,
                    quantity: n("quantity")?,
                },
                Some(s("operation_id")?),
            )));
        }
        "token.transfer_approved" => Op::Approve {
            pending: s("pending_id")?,
        },
        "token.transfer_cancelled" => Op::Cancel {
            pending: s("pending_id")?,
        },
        "token.frozen" => Op::Freeze {
            holder: s("holder")?,
            quantity: opt_n("quantity")?,
        },
        "token.unfrozen" => Op::Unfreeze {
            holder: s("holder")?,
            quantity: opt_n("quantity")?,
        },
        "bond.paused" => Op::Pause,
        "bond.unpaused" => Op::Unpause,
        "token.forced_transfer" => Op::ForcedTransfer {
            from: s("from")?,
            to: s("to")?,
            quantity: n("quantity")?,
        },
        "token.redeemed" => Op::Redeem {
            holder: s("holder")?,
            quantity: n("quantity")?,
        },
        "bond.redeemed" => Op::RedeemAll,
        _ => return Ok(None),
    };
    Ok(Some((op, None)))
}

/// A decimal without sign or leading zeros, as quantities are written in entries.
fn canonical_u64(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::book::Pending;

    #[test]
    fn every_recorded_operation_replays_to_itself() {
        let pending = Pending {
            from: "a".into(),
            to: "b".into(),
            quantity: 5,
        };
        let ops = [
            (
                Op::Issue {
                    allocations: vec![("a".into(), 10), ("b".into(), 3)],
                },
                Outcome::Applied,
            ),
            (Op::CloseIssuance, Outcome::Applied),
            (
                Op::Transfer {
                    from: "a".into(),
                    to: "b".into(),
                    quantity: 2,
                },
                Outcome::Applied,
            ),
            (
                Op::Approve {
                    pending: "op-9".into(),
                },
                Outcome::Applied,
            ),
            (
                Op::Cancel {
                    pending: "op-9".into(),
                },
                Outcome::Applied,
            ),
            (
                Op::Freeze {
                    holder: "a".into(),
                    quantity: Some(4),
                },
                Outcome::Applied,
            ),
            (
                Op::Freeze {
                    holder: "a".into(),
                    quantity: None,
                },
                Outcome::Applied,
            ),
            (
                Op::Unfreeze {
                    holder: "a".into(),
                    quantity: None,
                },
                Outcome::Applied,
            ),
            (Op::Pause, Outcome::Applied),
            (Op::Unpause, Outcome::Applied),
            (
                Op::ForcedTransfer {
                    from: "a".into(),
                    to: "c".into(),
                    quantity: 1,
                },
                Outcome::Applied,
            ),
            (
                Op::Redeem {
                    holder: "b".into(),
                    quantity: 1,
                },
                Outcome::Applied,
            ),
            (Op::RedeemAll, Outcome::Redeemed(vec![("a".into(), 7)])),
        ];
        for (op, outcome) in ops {
            let (kind, data, _) = record(
                &op,
                &outcome,
                "op-1",
                Some("court order 2026-17"),
                Some(&pending),
            );
            assert!(TOKEN_ENTRY_KINDS.contains(&kind.as_str()));
            let (back, pending_id) = replay(&kind, &data).unwrap().unwrap();
            assert_eq!(back, op, "{kind}");
            assert_eq!(pending_id, None);
        }
        let t = Op::Transfer {
            from: "a".into(),
            to: "b".into(),
            quantity: 2,
        };
        let (kind, data, parties) = record(&t, &Outcome::Pending, "op-7", None, None);
        assert_eq!(kind, "token.transfer_pending");
        assert_eq!(parties, ["a", "b"]);
        assert_eq!(
            replay(&kind, &data).unwrap(),
            Some((t, Some("op-7".into())))
        );
    }

    #[test]
    fn entries_that_do_not_move_tokens_replay_to_nothing_and_bad_data_is_an_error() {
        assert_eq!(replay("bond.registered", &json!({})).unwrap(), None);
        assert!(
            replay(
                "token.transferred",
                &json!({"from": "a", "to": "b", "quantity": "01"})
            )
            .is_err()
        );
        assert!(replay("token.issued", &json!({"allocations": [{"investor": "a"}]})).is_err());
    }
}
