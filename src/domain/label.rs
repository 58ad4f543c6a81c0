//! Label lifecycle: a bond's label status as a pure function of ledger facts and a date.
