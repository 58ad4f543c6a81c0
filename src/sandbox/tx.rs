//! A trial's transactions as replay sees them.
//!
//! The online service builds a [`Tx`] from a signed request (checking its signature first), and
//! [`crate::sandbox::ledger`] from an exported entry (checking it again, in batches). On the wire a transaction is JSON with string amounts and RFC 3339 UTC
//! times, e.g.
//!
//! ```json
//! {"id":"tx-42","time":"2026-10-05T01:00:00.000000Z","actor":"inv-1",
//!  "body":{"type":"transfer","to":"inv-2","amount":"250000"}}
//! ```
//!
//! The transaction's `time` is the ledger entry's time: the only clock replay knows.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::domain::party::{InvestorCategory, Role};
use crate::domain::wire::wire_enum;
use crate::sandbox::state::Status;
use crate::sandbox::wire;

/// One transaction of a trial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tx {
    /// Unique within the trial (the ledger's operation id). Issuer consents refer to it.
    pub id: String,
    /// When the ledger recorded it; RFC 3339 UTC, at most microseconds.
    #[serde(with = "wire::time_utc")]
    pub time: OffsetDateTime,
    /// The party that signed it.
    pub actor: String,
    /// What it does.
    pub body: TxBody,
}

/// What a transaction does; the JSON `type` names the variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum TxBody {
    /// The regulator admits a participant to the trial, or re-admits one to update its
    /// category or KYC expiry. `role` is `issuer` or `investor`; an investor has a category.
    #[serde(rename = "participant.admit")]
    Admit {
        party: String,
        role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        investor_category: Option<InvestorCategory>,
        /// Last day the participant's KYC check is valid (Asia/Tokyo); none: it does not lapse.
        #[serde(
            default,
            with = "wire::opt_date",
            skip_serializing_if = "Option::is_none"
        )]
        kyc_expires_on: Option<Date>,
    },
    /// The regulator changes the trial's status.
    #[serde(rename = "trial.status")]
    Status { status: Status },
    /// A participant consents to a disclosure document version.
    #[serde(rename = "disclosure.consent")]
    Consent { disclosure_version: String },
    /// The issuer issues tokens to an investor (primary subscription).
    #[serde(rename = "issue")]
    Issue {
        to: String,
        #[serde(with = "wire::amount")]
        amount: Decimal,
        /// ICMA GBP/SBP category slug, as in `domain::bond::Category` (`"renewable_energy"`).
        use_of_proceeds: String,
    },
    /// An investor transfers tokens to another investor, or back to an issuer (a buyback,
    /// which is an exit transaction).
    #[serde(rename = "transfer")]
    Transfer {
        to: String,
        #[serde(with = "wire::amount")]
        amount: Decimal,
    },
    /// The issuer consents to the future transfer whose transaction id is `transfer_id`, from
    /// `from` to `to` of `amount`.
    #[serde(rename = "issuer.consent")]
    IssuerConsent {
        transfer_id: String,
        /// The transfer it consents to, exactly: sender, receiver and amount. A transfer with
        /// this id but other terms does not use it (a guessed id is worth nothing).
        from: String,
        to: String,
        #[serde(with = "wire::amount")]
        amount: Decimal,
    },
    /// An investor redeems tokens with the issuer (an exit transaction).
    #[serde(rename = "redeem")]
    Redeem {
        #[serde(with = "wire::amount")]
        amount: Decimal,
    },
    /// The issuer files a trial report covering the trial up to `period_end` (Asia/Tokyo).
    #[serde(rename = "report")]
    Report {
        #[serde(with = "wire::date")]
        period_end: Date,
    },
}

wire_enum! {
    /// The type of a transaction: the JSON `type` of its body.
    pub enum TxType ("transaction type") {
        Admit = "participant.admit",
        Status = "trial.status",
        Consent = "disclosure.consent",
        Issue = "issue",
        Transfer = "transfer",
        IssuerConsent = "issuer.consent",
        Redeem = "redeem",
        Report = "report",
    }
}

impl TxBody {
    /// The transaction's type.
    pub fn tx_type(&self) -> TxType {
        match self {
            TxBody::Admit { .. } => TxType::Admit,
            TxBody::Status { .. } => TxType::Status,
            TxBody::Consent { .. } => TxType::Consent,
            TxBody::Issue { .. } => TxType::Issue,
            TxBody::Transfer { .. } => TxType::Transfer,
            TxBody::IssuerConsent { .. } => TxType::IssuerConsent,
            TxBody::Redeem { .. } => TxType::Redeem,
            TxBody::Report { .. } => TxType::Report,
        }
    }
}

impl TxType {
    /// Whether only the regulator sends this type (the trial's own administration).
    pub fn is_regulator(self) -> bool {
        matches!(self, TxType::Admit | TxType::Status)
    }

    /// A bit of its own, for small sets of types.
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn a_transaction_travels_as_json_with_string_amounts_and_utc_times() {
        let json = r#"{"id":"tx-1","time":"2026-10-05T01:00:00.000000Z","actor":"inv-1","body":{"type":"transfer","to":"inv-2","amount":"250000"}}"#;
        let tx: Tx = serde_json::from_str(json).unwrap();
        assert_eq!(tx.time, datetime!(2026-10-05 01:00 UTC));
        assert_eq!(
            tx.body,
            TxBody::Transfer {
                to: "inv-2".into(),
                amount: Decimal::from(250_000)
            }
        );
        assert_eq!(serde_json::to_string(&tx).unwrap(), json);
    }

    #[test]
    fn an_admission_carries_category_and_kyc_expiry_and_omits_them_when_absent() {
        let json = r#"{"type":"participant.admit","party":"inv-1","role":"investor","investor_category":"general","kyc_expires_on":"2027-03-31"}"#;
        let body: TxBody = serde_json::from_str(json).unwrap();
        assert_eq!(
            body,
            TxBody::Admit {
                party: "inv-1".into(),
                role: Role::Investor,
                investor_category: Some(InvestorCategory::General),
                kyc_expires_on: Some(date!(2027 - 03 - 31)),
            }
        );
        assert_eq!(serde_json::to_string(&body).unwrap(), json);
        let issuer = r#"{"type":"participant.admit","party":"iss","role":"issuer"}"#;
        let body: TxBody = serde_json::from_str(issuer).unwrap();
        assert_eq!(serde_json::to_string(&body).unwrap(), issuer);
    }

    #[test]
    fn numbers_floats_unknown_fields_and_unknown_types_are_refused() {
        for json in [
            r#"{"type":"redeem","amount":100}"#,
            r#"{"type":"redeem","amount":"1e2"}"#,
            r#"{"type":"redeem","amount":"100","memo":"x"}"#,
            r#"{"type":"mint","amount":"100"}"#,
            r#"{"type":"report","period_end":"2026-13-01"}"#,
        ] {
            assert!(serde_json::from_str::<TxBody>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn every_type_has_its_wire_name() {
        assert_eq!(TxType::ALL.len(), 8);
        assert_eq!(TxType::parse("issuer.consent"), Ok(TxType::IssuerConsent));
        let body = TxBody::Status {
            status: Status::Exiting,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"type":"trial.status","status":"exiting"}"#
        );
    }
}
