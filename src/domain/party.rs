//! Parties: who they are, what role they play, and — for investors — whether they may hold a
//! given security token.
//!
//! Roles are those of DESIGN.md ("Users and roles"). Investor categories follow the Financial
//! Instruments and Exchange Act (FIEA, Japan): qualified institutional investors (適格機関投資家,
//! Art. 2(3)(i) and the Cabinet Office Ordinance on Definitions Art. 10) are a subset of
//! professional investors (特定投資家, Art. 2(31)), who are a subset of all investors.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::error::{FieldError, FieldErrors, all_parsed};
use crate::domain::ids::{Country, Lei};
use crate::domain::text::Name;
use crate::domain::wire::{format_date, parse_date, wire_enum};

/// A party's display name: trimmed, 1 to 200 characters, no control characters.
pub type PartyName = Name;

wire_enum! {
    /// What a party may do (DESIGN.md, "Users and roles").
    pub enum Role ("role") {
        /// Runs the service and bootstraps parties; never moves anyone's tokens.
        Operator = "operator",
        /// Registers bonds, issues, reports, redeems and pays coupons.
        Issuer = "issuer",
        /// Holds and transfers tokens.
        Investor = "investor",
        /// External reviewer: signs pre- and post-issuance reviews.
        Verifier = "verifier",
        /// Reads and replays every ledger; never writes to a bond ledger.
        Regulator = "regulator",
    }
}

wire_enum! {
    /// An investor's category under the FIEA, from the narrowest to the widest.
    pub enum InvestorCategory ("investor category") {
        /// Qualified institutional investor (適格機関投資家).
        Qii = "qii",
        /// Professional investor (特定投資家); includes every QII, the state, listed companies.
        Professional = "professional",
        /// Any other investor; offerings to them need suitability checks and a pre-contract
        /// document.
        General = "general",
    }
}

wire_enum! {
    /// Where a party's know-your-customer check stands.
    pub enum KycStatus ("KYC status") {
        Pending = "pending",
        Verified = "verified",
        Rejected = "rejected",
    }
}

/// A party's KYC state. Any combination is meaningful, so the fields are public.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Kyc {
    pub status: KycStatus,
    /// Last day on which the check is still valid; `None` when it does not lapse by date.
    pub expires_on: Option<Date>,
}

/// A party as submitted (by the operator's CLI or the API). Validate with
/// [`PartyAttributes::validate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyAttributes {
    /// Display name.
    #[schema(example = "Naniwa Trust Bank")]
    pub name: String,
    /// Registered legal name, when it differs from the display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "株式会社なにわ信託銀行")]
    pub legal_name: Option<String>,
    /// ISO 17442 Legal Entity Identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "5493001KJTIIGC8Y1R12")]
    pub lei: Option<String>,
    /// ISO 3166-1 alpha-2 country of incorporation or residence. Required for issuers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "JP")]
    pub country: Option<String>,
    /// Required for investors, refused for every other role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investor_category: Option<InvestorCategory>,
    /// Required for investors (Act on Prevention of Transfer of Criminal Proceeds, Art. 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kyc_status: Option<KycStatus>,
    /// Last day the KYC check is valid, `YYYY-MM-DD`; only with `kyc_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2027-03-31")]
    pub kyc_expires_on: Option<String>,
}

/// A validated party: what [`PartyAttributes::validate`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidParty {
    role: Role,
    name: PartyName,
    legal_name: Option<Name>,
    lei: Option<Lei>,
    country: Option<Country>,
    investor_category: Option<InvestorCategory>,
    kyc: Option<Kyc>,
}

impl InvestorCategory {
    /// Whether an investor of this category may take part in an offering restricted to
    /// `required`: the categories nest (QII ⊂ professional ⊂ general), so a QII satisfies a
    /// professional-only restriction and anyone satisfies a general one.
    pub fn satisfies(&self, required: InvestorCategory) -> bool {
        self.breadth() <= required.breadth()
    }

    /// 0 for the narrowest category (QII), 2 for the widest (general).
    const fn breadth(self) -> u8 {
        match self {
            InvestorCategory::Qii => 0,
            InvestorCategory::Professional => 1,
            InvestorCategory::General => 2,
        }
    }
}

impl Kyc {
    /// Whether the check is verified and not lapsed on `today`. `expires_on` is the last valid
    /// day, as with a passport's date of expiry.
    pub fn is_valid_on(&self, today: Date) -> bool {
        self.status == KycStatus::Verified && self.expires_on.is_none_or(|last| today <= last)
    }
}

impl PartyAttributes {
    /// Checks the attributes for a party of `role`, reporting every problem with a JSON pointer
    /// relative to this object.
    ///
    /// Role rules, and why:
    /// - investors must state their investor category, because every transfer restriction is
    ///   decided on it (FIEA private-placement rules), and their KYC status, because KYC of every
    ///   holder is required by law;
    /// - only investors may carry an investor category: on another role it would be meaningless
    ///   and could mislead a rule that reads it;
    /// - issuers must state their country, which decides the disclosure regime of their bonds;
    /// - `kyc_expires_on` needs `kyc_status`: an expiry of nothing is a mistake.
    pub fn validate(&self, role: Role) -> Result<ValidParty, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let name = errors.check("/name", Name::parse(&self.name));
        let legal_name = self
            .legal_name
            .as_deref()
            .map(|text| errors.check("/legal_name", Name::parse(text)));
        let lei = self
            .lei
            .as_deref()
            .map(|text| errors.check("/lei", Lei::parse(text)));
        let country = self
            .country
            .as_deref()
            .map(|text| errors.check("/country", Country::parse(text)));
        let expires_on = self
            .kyc_expires_on
            .as_deref()
            .map(|text| errors.check("/kyc_expires_on", parse_date(text)));

        if role == Role::Issuer && self.country.is_none() {
            errors.push(
                "/country",
                "required_for_role",
                "an issuer must state its country (ISO 3166-1 alpha-2, e.g. \"JP\")",
            );
        }
        match (role, self.investor_category) {
            (Role::Investor, None) => errors.push(
                "/investor_category",
                "required_for_role",
                "an investor must state its investor category: qii, professional or general",
            ),
            (role, Some(_)) if role != Role::Investor => errors.push(
                "/investor_category",
                "not_allowed_for_role",
                format!("only investors have an investor category, not a party with role {role}"),
            ),
            _ => {}
        }
        if role == Role::Investor && self.kyc_status.is_none() {
            errors.push(
                "/kyc_status",
                "required_for_role",
                "an investor must have a KYC status: pending, verified or rejected",
            );
        }
        if self.kyc_status.is_none() && self.kyc_expires_on.is_some() {
            errors.push(
                "/kyc_expires_on",
                "kyc_expiry_without_status",
                "kyc_expires_on is given without kyc_status; add the status or drop the date",
            );
        }

        let party = (|| {
            Some(ValidParty {
                role,
                name: name?,
                legal_name: all_parsed(legal_name)?,
                lei: all_parsed(lei)?,
                country: all_parsed(country)?,
                investor_category: self.investor_category,
                kyc: match self.kyc_status {
                    Some(status) => Some(Kyc {
                        status,
                        expires_on: all_parsed(expires_on)?,
                    }),
                    None => None,
                },
            })
        })();
        errors.into_result(party)
    }
}

impl ValidParty {
    /// The role the party was validated for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Display name.
    pub fn name(&self) -> &PartyName {
        &self.name
    }

    /// Registered legal name, if given.
    pub fn legal_name(&self) -> Option<&Name> {
        self.legal_name.as_ref()
    }

    /// Legal Entity Identifier, if given.
    pub fn lei(&self) -> Option<&Lei> {
        self.lei.as_ref()
    }

    /// Country, if given (always present for issuers).
    pub fn country(&self) -> Option<Country> {
        self.country
    }

    /// Investor category (present exactly for investors).
    pub fn investor_category(&self) -> Option<InvestorCategory> {
        self.investor_category
    }

    /// KYC state (always present for investors).
    pub fn kyc(&self) -> Option<Kyc> {
        self.kyc
    }

    /// The normalised wire form; `to_attributes().validate(role())` gives this party back.
    pub fn to_attributes(&self) -> PartyAttributes {
        PartyAttributes {
            name: self.name.as_str().to_owned(),
            legal_name: self
                .legal_name
                .as_ref()
                .map(|name| name.as_str().to_owned()),
            lei: self.lei.as_ref().map(|lei| lei.as_str().to_owned()),
            country: self.country.map(|country| country.as_str().to_owned()),
            investor_category: self.investor_category,
            kyc_status: self.kyc.map(|kyc| kyc.status),
            kyc_expires_on: self.kyc.and_then(|kyc| kyc.expires_on).map(format_date),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn investor() -> PartyAttributes {
        PartyAttributes {
            name: "Naniwa Trust Bank".to_owned(),
            legal_name: Some("株式会社なにわ信託銀行".to_owned()),
            lei: Some("5493001KJTIIGC8Y1R12".to_owned()),
            country: Some("JP".to_owned()),
            investor_category: Some(InvestorCategory::Qii),
            kyc_status: Some(KycStatus::Verified),
            kyc_expires_on: Some("2027-03-31".to_owned()),
        }
    }

    fn issuer() -> PartyAttributes {
        PartyAttributes {
            name: "Osaka Prefecture".to_owned(),
            legal_name: None,
            lei: None,
            country: Some("JP".to_owned()),
            investor_category: None,
            kyc_status: None,
            kyc_expires_on: None,
        }
    }

    fn codes(errors: Vec<FieldError>) -> Vec<(String, String)> {
        errors.into_iter().map(|e| (e.pointer, e.code)).collect()
    }

    #[test]
    fn roles_parse_from_their_wire_names_only() {
        assert_eq!(Role::parse("regulator"), Ok(Role::Regulator));
        assert!(Role::parse("Regulator").is_err());
        assert_eq!(Role::ALL.len(), 5);
        assert_eq!(
            serde_json::to_string(&Role::Investor).unwrap(),
            "\"investor\""
        );
    }

    #[test]
    fn investor_categories_nest_qii_inside_professional_inside_general() {
        use InvestorCategory::*;
        assert!(Qii.satisfies(Qii));
        assert!(Qii.satisfies(Professional));
        assert!(Qii.satisfies(General));
        assert!(!Professional.satisfies(Qii));
        assert!(Professional.satisfies(Professional));
        assert!(Professional.satisfies(General));
        assert!(!General.satisfies(Qii));
        assert!(!General.satisfies(Professional));
        assert!(General.satisfies(General));
    }

    #[test]
    fn investor_category_travels_as_qii() {
        assert_eq!(
            serde_json::to_string(&InvestorCategory::Qii).unwrap(),
            "\"qii\""
        );
        assert_eq!(
            InvestorCategory::parse("professional"),
            Ok(InvestorCategory::Professional)
        );
    }

    #[test]
    fn kyc_is_valid_through_its_expiry_day_and_not_the_day_after() {
        let kyc = Kyc {
            status: KycStatus::Verified,
            expires_on: Some(date!(2027 - 03 - 31)),
        };
        assert!(kyc.is_valid_on(date!(2027 - 03 - 31)));
        assert!(!kyc.is_valid_on(date!(2027 - 04 - 01)));
    }

    #[test]
    fn kyc_that_is_not_verified_is_never_valid() {
        for status in [KycStatus::Pending, KycStatus::Rejected] {
            let kyc = Kyc {
                status,
                expires_on: None,
            };
            assert!(!kyc.is_valid_on(date!(2025 - 01 - 01)));
        }
    }

    #[test]
    fn verified_kyc_without_expiry_stays_valid() {
        let kyc = Kyc {
            status: KycStatus::Verified,
            expires_on: None,
        };
        assert!(kyc.is_valid_on(date!(2099 - 12 - 31)));
    }

    #[test]
    fn a_complete_investor_validates_and_round_trips() {
        let party = investor().validate(Role::Investor).unwrap();
        assert_eq!(party.investor_category(), Some(InvestorCategory::Qii));
        assert_eq!(party.lei().map(Lei::as_str), Some("5493001KJTIIGC8Y1R12"));
        assert!(party.kyc().unwrap().is_valid_on(date!(2026 - 01 - 01)));
        assert_eq!(party.to_attributes().validate(Role::Investor), Ok(party));
    }

    #[test]
    fn an_issuer_without_investor_fields_validates() {
        let party = issuer().validate(Role::Issuer).unwrap();
        assert_eq!(party.country(), Some(Country::JP));
        assert_eq!(party.kyc(), None);
    }

    #[test]
    fn an_investor_without_category_or_kyc_status_is_refused() {
        let attributes = PartyAttributes {
            investor_category: None,
            kyc_status: None,
            kyc_expires_on: None,
            ..investor()
        };
        let errors = codes(attributes.validate(Role::Investor).unwrap_err());
        assert_eq!(
            errors,
            [
                (
                    "/investor_category".to_owned(),
                    "required_for_role".to_owned()
                ),
                ("/kyc_status".to_owned(), "required_for_role".to_owned()),
            ]
        );
    }

    #[test]
    fn an_investor_category_on_an_issuer_is_refused() {
        let attributes = PartyAttributes {
            investor_category: Some(InvestorCategory::Professional),
            ..issuer()
        };
        let errors = codes(attributes.validate(Role::Issuer).unwrap_err());
        assert_eq!(
            errors,
            [(
                "/investor_category".to_owned(),
                "not_allowed_for_role".to_owned()
            )]
        );
    }

    #[test]
    fn an_issuer_without_country_is_refused() {
        let attributes = PartyAttributes {
            country: None,
            ..issuer()
        };
        let errors = codes(attributes.validate(Role::Issuer).unwrap_err());
        assert_eq!(
            errors,
            [("/country".to_owned(), "required_for_role".to_owned())]
        );
    }

    #[test]
    fn a_kyc_expiry_without_status_is_refused() {
        let attributes = PartyAttributes {
            kyc_expires_on: Some("2027-03-31".to_owned()),
            ..issuer()
        };
        let errors = codes(attributes.validate(Role::Issuer).unwrap_err());
        assert_eq!(
            errors,
            [(
                "/kyc_expires_on".to_owned(),
                "kyc_expiry_without_status".to_owned()
            )]
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let attributes = PartyAttributes {
            name: " ".to_owned(),
            legal_name: Some("x".repeat(201)),
            lei: Some("5493001KJTIIGC8Y1R13".to_owned()),
            country: Some("UK".to_owned()),
            investor_category: Some(InvestorCategory::Qii),
            kyc_status: Some(KycStatus::Verified),
            kyc_expires_on: Some("2027-02-30".to_owned()),
        };
        let errors = codes(attributes.validate(Role::Investor).unwrap_err());
        assert_eq!(
            errors,
            [
                ("/name".to_owned(), "empty".to_owned()),
                ("/legal_name".to_owned(), "too_long".to_owned()),
                ("/lei".to_owned(), "check_digit_mismatch".to_owned()),
                ("/country".to_owned(), "unknown_country".to_owned()),
                ("/kyc_expires_on".to_owned(), "invalid_date".to_owned()),
            ]
        );
    }

    #[test]
    fn unknown_fields_are_refused_on_the_wire() {
        let json = serde_json::json!({"name": "A", "nickname": "B"});
        assert!(serde_json::from_value::<PartyAttributes>(json).is_err());
    }

    #[test]
    fn absent_options_are_left_out_of_the_wire_form() {
        let json = serde_json::to_value(issuer()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "Osaka Prefecture", "country": "JP"})
        );
    }
}
