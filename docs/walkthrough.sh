#!/usr/bin/env bash
# The README's five-minute tour, as a script. Runs against a live midori at $MIDORI_URL and
# leaves in DIR what an auditor needs to check the bond's ledger offline:
#   export.jsonl    the bond ledger, one canonical entry a line
#   checkpoint.txt  its latest signed checkpoint (C2SP signed note)
#   jwks.json       the service's public keys
#   label.jws       the bond's current certified label (compact JWS, EdDSA)
#   keys.jsonl      the public key log (every party key event) and keys-checkpoint.txt
#   trial.jsonl     a sandbox trial's ledger, replayed offline with `midori sandbox replay`
# and, readable by its owner only (mode 0600), every credential the tour made: the parties'
# private keys (*.jwk) and API keys (*.token), so that any step can be tried again by hand.
# Then it runs `midori verify` on them (signatures, canonical form, Merkle root, and the token
# invariants: supply conserved, no negative balance), and `midori label verify` on the label.
#
# Usage: MIDORI_OPERATOR_TOKEN=mdr_… docs/walkthrough.sh DIR
#   MIDORI_URL   base URL of the service (default http://127.0.0.1:8080)
#   MIDORI_BIN   the midori binary (default: midori on PATH)
# Needs curl and jq.
set -euo pipefail

dir=${1:?usage: MIDORI_OPERATOR_TOKEN=... $0 DIR}
url=${MIDORI_URL:-http://127.0.0.1:8080}
midori=${MIDORI_BIN:-midori}
operator=${MIDORI_OPERATOR_TOKEN:?set MIDORI_OPERATOR_TOKEN to an operator API key (midori admin create-party --role operator ...)}
here=$(cd "$(dirname "$0")" && pwd)
umask 077
mkdir -p "$dir"

step() { printf '\n== %s\n' "$*"; }
# curl that prints the response body; on an HTTP error it prints the status and the
# problem+json body on stderr (where it is seen, even inside a pipe) and fails.
call() {
  local out code
  out=$(curl -sS -w '\n%{http_code}' "$@") || return 1
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$code" -ge 400 ]; then
    printf 'HTTP %s\n%s\n' "$code" "$out" >&2
    return 1
  fi
  printf '%s' "$out"
}
# Keep a credential in the tour directory, readable by its owner only (umask above).
keep() { printf '%s\n' "$2" > "$dir/$1"; }

# The service may still be starting.
for _ in $(seq 1 50); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done

step "1. The issuer makes its own Ed25519 key pair; the private key never leaves it"
rm -f "$dir/issuer.jwk"
issuer_jwk=$("$midori" keygen --out "$dir/issuer.jwk")
echo "$issuer_jwk" | jq .

step "2. The operator registers the issuer (LEI and country are validated) and gets its API key once"
issuer=$(call -X POST "$url/v1/parties" \
  -H "authorization: Bearer $operator" -H 'content-type: application/json' \
  -d "$(jq -n --arg key "$issuer_jwk" '{role: "issuer", public_key: $key,
        attributes: {name: "Osaka Prefecture", legal_name: "Osaka Prefectural Government",
                     lei: "5493001KJTIIGC8Y1R12", country: "JP"}}')")
issuer_token=$(echo "$issuer" | jq -r .api_key)
keep issuer.token "$issuer_token"
echo "$issuer" | jq '{party: .party.id, role: .party.role, kid: .party.keys[0].kid}'

step "3. The issuer signs the bond's terms (JCS + Ed25519, with kid and nonce) and registers it"
jq '{type: "bond.register", bond: .}' "$here/examples/green-bond.json" \
  | "$midori" sign --key "$dir/issuer.jwk" > "$dir/register.json"
registered=$(call -X POST "$url/v1/bonds" \
  -H "authorization: Bearer $issuer_token" -H 'content-type: application/json' \
  --data-binary @"$dir/register.json")
bond=$(echo "$registered" | jq -r .bond.id)
echo "$registered" | jq '{bond: .bond.id, name: .bond.terms.name, entry_index, ledger: .bond.ledger}'

step "4. Later, the issuer attaches its second-party opinion: the next signed ledger entry"
jq -n --arg b "$bond" '{type: "bond.add_document", bond_id: $b, document: {kind: "second_party_opinion",
        uri: "https://example.org/osaka/green-bond-spo-2026.pdf",
        sha256: "9f2c1a4b7e0d3c6f8a5b2e1d4c7f0a3b6e9d2c5f8b1a4e7d0c3f6a9b2e5d8c1f"}}' \
  | "$midori" sign --key "$dir/issuer.jwk" \
  | call -X POST "$url/v1/bonds/$bond/documents" \
      -H "authorization: Bearer $issuer_token" -H 'content-type: application/json' --data-binary @- \
  | jq '{entry_index, tree_size}'

step "5. Two investors (QII, KYC verified) with their own keys; the issuer issues tokens to one"
investor() { # name file -> party id and API key, tab-separated
  local jwk; jwk=$("$midori" keygen --out "$dir/$2.jwk")
  call -X POST "$url/v1/parties" -H "authorization: Bearer $operator" -H 'content-type: application/json' \
    -d "$(jq -n --arg key "$jwk" --arg name "$1" '{role: "investor", public_key: $key,
          attributes: {name: $name, country: "JP", investor_category: "qii",
                       kyc_status: "verified", kyc_expires_on: "2030-12-31"}}')" \
    | jq -r '[.party.id, .api_key] | @tsv'
}
rm -f "$dir/pension.jwk" "$dir/bank.jwk"
IFS=$'\t' read -r pension pension_token < <(investor "Kansai Pension Fund" pension)
IFS=$'\t' read -r bank bank_token < <(investor "Naniwa Trust Bank" bank)
keep pension.token "$pension_token"
keep bank.token "$bank_token"
operate() { # signer-key token payload
  echo "$3" | "$midori" sign --key "$1" \
    | call -X POST "$url/v1/bonds/$bond/operations" \
        -H "authorization: Bearer $2" -H 'content-type: application/json' --data-binary @-
}
operate "$dir/issuer.jwk" "$issuer_token" "$(jq -n --arg b "$bond" --arg p "$pension" \
  '{type: "token.issue", bond_id: $b, operation_id: "issue-2026-001",
    allocations: [{investor: $p, quantity: "6000"}]}')" | jq '{entry_type, entry_index, tree_size}'

step "6. The pension fund checks a transfer in advance (every broken rule at once), then signs it"
call -X POST "$url/v1/bonds/$bond/operations/check" -H "authorization: Bearer $pension_token" \
  -H 'content-type: application/json' \
  -d "$(jq -n --arg b "$bond" --arg to "$bank" '{type: "token.transfer", bond_id: $b, to: $to, quantity: "7000"}')" | jq .
operate "$dir/pension.jwk" "$pension_token" "$(jq -n --arg b "$bond" --arg to "$bank" \
  '{type: "token.transfer", bond_id: $b, operation_id: "kpf-2026-0001", to: $to, quantity: "2500"}')" \
  | jq '{entry_type, entry_index, status}'
call "$url/v1/bonds/$bond/holders" -H "authorization: Bearer $issuer_token" \
  | jq '{outstanding, holders: [.holders[] | {holder, balance}]}'
call "$url/v1/bonds/$bond/coupons" | jq '.[0]'

step "7. The bond was issued in 2025: its verifier and issuer record its history with the real publication dates"
rm -f "$dir/verifier.jwk"
verifier_jwk=$("$midori" keygen --out "$dir/verifier.jwk")
IFS=$'\t' read -r verifier_id verifier_token < <(call -X POST "$url/v1/parties" \
  -H "authorization: Bearer $operator" -H 'content-type: application/json' \
  -d "$(jq -n --arg key "$verifier_jwk" '{role: "verifier", public_key: $key,
        attributes: {name: "Kansai Green Review", country: "JP"}}')" | jq -r '[.party.id, .api_key] | @tsv')
keep verifier.token "$verifier_token"
monitor() { # signer-key token path payload
  echo "$4" | "$midori" sign --key "$1" \
    | call -X POST "$url/v1/bonds/$bond/$3" \
        -H "authorization: Bearer $2" -H 'content-type: application/json' --data-binary @-
}
monitor "$dir/issuer.jwk" "$issuer_token" reviewers "$(jq -n --arg b "$bond" --arg v "$verifier_id" \
  '{type: "review.engage", bond_id: $b, engagement: {verifier: $v}}')" | jq '{entry_type, entry_index}'
# Facts recorded more than 30 days after they were published cite the published document (its
# URI and SHA-256), so nobody can backdate a report unseen. These documents are illustrations.
doc() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
monitor "$dir/verifier.jwk" "$verifier_token" reviews "$(jq -n --arg b "$bond" --arg h "$(doc spo-2025)" '{type: "review.submit", bond_id: $b,
  review: {review_id: "SPO-2025-OSAKA", kind: "pre_issuance", conclusion: "positive",
           summary: "Framework aligned with ICMA GBP 2021 and the MoE Green Bond Guidelines 2022",
           published_on: "2025-05-30", published_document: {uri: "https://review.example/spo-2025-osaka.pdf", sha256: $h}}}')" | jq '{entry_type, entry_index}'
monitor "$dir/issuer.jwk" "$issuer_token" projects "$(jq -n --arg b "$bond" '{type: "project.register", bond_id: $b,
  project: {project_id: "SOLAR-OSAKA-BAY", name: "Osaka Bay solar plant", category: "renewable_energy",
            sdg_targets: ["7.2"], country: "JP", location: "Sakishima, Osaka", total_cost: "8000000000",
            financing_share: "100", status: "building", useful_life_years: "25"}}')" | jq '{entry_type, entry_index}'
# 6,000 tokens of ¥1,000,000 are issued: ¥6bn of net proceeds, ¥4bn allocated, ¥2bn placed meanwhile.
monitor "$dir/issuer.jwk" "$issuer_token" allocation-reports "$(jq -n --arg b "$bond" --arg h "$(doc report-fy2025)" '{type: "allocation.report", bond_id: $b,
  allocation: {period_start: "2025-06-20", period_end: "2026-03-31",
    lines: [{project_id: "SOLAR-OSAKA-BAY", amount: "4000000000", use_of_funds: "financing", expense: "capex", value_date: "2025-09-01"}],
    unallocated: {amount: "2000000000", placement: "Japanese government bonds"},
    published_on: "2026-06-30", published_document: {uri: "https://www.pref.osaka.example/green-bond-report-fy2025.pdf", sha256: $h}}}')" | jq '{entry_type, entry_index}'
monitor "$dir/issuer.jwk" "$issuer_token" impact-reports "$(jq -n --arg b "$bond" --arg h "$(doc report-fy2025)" '{type: "impact.report", bond_id: $b,
  impact: {period_start: "2025-06-20", period_end: "2026-03-31", basis: "ex_ante",
    figures: [{projects: ["SOLAR-OSAKA-BAY"], indicator: "renewable_generation", value: "12000", unit: "MWh/yr",
               methodology: "Expected generation of the plant once operating", baseline: "No generation before commissioning"}],
    published_on: "2026-06-30", published_document: {uri: "https://www.pref.osaka.example/green-bond-report-fy2025.pdf", sha256: $h}}}')" | jq '{entry_type, entry_index}'
call "$url/v1/bonds/$bond/allocation" | jq '{net_proceeds, allocated, unallocated, fully_allocated}'
# One label per scheme the bond names: the Osaka IFC label first, then the ICMA Principles.
call "$url/v1/label-schemes" | jq '[.[] | {id, version, sha256, impact: .impact_reporting.frequency}]'
call "$url/v1/bonds/$bond/label" | jq '{scheme: .scheme.id, status, since, obligations, reasons}'
call "$url/v1/bonds/$bond/label?scheme=icma-gbp" | jq '{scheme: .scheme.id, status, since, reasons}'
# The standing on any past day, as if each fact had been recorded on the day it was published.
call "$url/v1/bonds/$bond/label?on=2026-01-01" | jq '{on, status, since, jws}'

step "8. Anyone can find the bond and fetch its signed checkpoint and the service's keys"
call "$url/v1/bonds?kind=green&category=renewable_energy" | jq '[.items[] | {id, name: .terms.name}]'
call "$url/v1/bonds/$bond/ledger/checkpoint" > "$dir/checkpoint.txt"
cat "$dir/checkpoint.txt"
call "$url/.well-known/jwks.json" > "$dir/jwks.json"

step "9. An inclusion proof for entry 0 in the current tree (RFC 9162)"
call "$url/v1/bonds/$bond/ledger/proofs/inclusion?index=0" | jq .

step "10. The issuer (or a regulator) exports the ledger; anyone verifies it offline, signers included"
call "$url/v1/bonds/$bond/ledger/export" -H "authorization: Bearer $issuer_token" > "$dir/export.jsonl"
wc -l < "$dir/export.jsonl"
# The public key log: every party key event (checkpoint first: the export may only be longer).
call "$url/v1/keys/ledger/checkpoint" > "$dir/keys-checkpoint.txt"
call "$url/v1/keys/ledger/export" > "$dir/keys.jsonl"
"$midori" verify --export "$dir/export.jsonl" --checkpoint "$dir/checkpoint.txt" --keys "$dir/jwks.json" \
  --key-log "$dir/keys.jsonl" --key-log-checkpoint "$dir/keys-checkpoint.txt"
echo "$bond" > "$dir/bond-id.txt"

step "11. The bond's certified label: a compact JWS that any JOSE library verifies with jwks.json"
call "$url/v1/bonds/$bond/label" | jq -r .jws > "$dir/label.jws"
"$midori" label verify --keys "$dir/jwks.json" "$dir/label.jws"

step "12. A regulator runs a sandbox trial: every transaction gets a verdict on the trial's own ledger"
rm -f "$dir/regulator.jwk"
regulator_jwk=$("$midori" keygen --out "$dir/regulator.jwk")
regulator_token=$(call -X POST "$url/v1/parties" -H "authorization: Bearer $operator" -H 'content-type: application/json' \
  -d "$(jq -n --arg key "$regulator_jwk" '{role: "regulator", public_key: $key,
        attributes: {name: "Kinki Local Finance Bureau", country: "JP"}}')" | jq -r .api_key)
keep regulator.token "$regulator_token"
trial=$(jq -n --rawfile rb "$here/../sandbox/osaka-ifc-green-st-v1.toml" \
    '{type: "trial.create", trial: {title: "Osaka IFC security-token green bond trial", rulebook: $rb}}' \
  | "$midori" sign --key "$dir/regulator.jwk" \
  | call -X POST "$url/v1/trials" -H "authorization: Bearer $regulator_token" -H 'content-type: application/json' --data-binary @- \
  | jq -r .trial.id)
trial_tx() { # signer-key token tx-id body
  jq -n --arg t "$trial" --arg id "$3" --argjson body "$4" '{type: "sandbox.tx", trial_id: $t, tx_id: $id, body: $body}' \
    | "$midori" sign --key "$1" \
    | call -X POST "$url/v1/trials/$trial/transactions" \
        -H "authorization: Bearer $2" -H 'content-type: application/json' --data-binary @- \
    | jq -c '{tx: .operation_id, status, rules: [.verdict.violations[].rule]}'
}
trial_tx "$dir/regulator.jwk" "$regulator_token" admit-issuer \
  "$(jq -n --arg p "$(echo "$registered" | jq -r .bond.issuer_id)" '{type: "participant.admit", party: $p, role: "issuer", kyc_expires_on: "2027-12-31"}')"
trial_tx "$dir/regulator.jwk" "$regulator_token" admit-pension \
  "$(jq -n --arg p "$pension" '{type: "participant.admit", party: $p, role: "investor", investor_category: "qii", kyc_expires_on: "2027-12-31"}')"
# The pension fund has not consented to the trial's disclosure yet: refused, and recorded.
trial_tx "$dir/issuer.jwk" "$issuer_token" issue-1 \
  "$(jq -n --arg p "$pension" '{type: "issue", to: $p, amount: "5000000", use_of_proceeds: "renewable_energy"}')"
# Both consent to the disclosure document; the issuer files its trial report up to today (JST).
disclosure=$(sed -n 's/^disclosure_version = "\(.*\)"/\1/p' "$here/../sandbox/osaka-ifc-green-st-v1.toml")
trial_tx "$dir/issuer.jwk" "$issuer_token" consent-issuer \
  "$(jq -n --arg d "$disclosure" '{type: "disclosure.consent", disclosure_version: $d}')"
trial_tx "$dir/pension.jwk" "$pension_token" consent-pension \
  "$(jq -n --arg d "$disclosure" '{type: "disclosure.consent", disclosure_version: $d}')"
trial_tx "$dir/issuer.jwk" "$issuer_token" report-1 \
  "$(jq -n --arg d "$(TZ=Asia/Tokyo date +%F)" '{type: "report", period_end: $d}')"
# ¥8,000,000: within v1's ¥10,000,000 limit on one subscription (v2 halves it).
trial_tx "$dir/issuer.jwk" "$issuer_token" issue-2 \
  "$(jq -n --arg p "$pension" '{type: "issue", to: $p, amount: "8000000", use_of_proceeds: "renewable_energy"}')"
call -X POST "$url/v1/trials/$trial/replay" -H "authorization: Bearer $regulator_token" \
  -H 'content-type: application/json' -d '{}' | jq -r .summary | sed -n 1,4p
call "$url/v1/trials/$trial/ledger/export" -H "authorization: Bearer $regulator_token" > "$dir/trial.jsonl"
"$midori" sandbox replay --rulebook "$here/../sandbox/osaka-ifc-green-st-v1.toml" --ledger "$dir/trial.jsonl" | sed -n 1,4p
echo "$trial" > "$dir/trial-id.txt"
