#!/usr/bin/env bash
# Checks the infrastructure code under deploy/ without touching any cloud:
#   1. every .tf/.tfvars/.hcl file parses (HCL parser from npm: @cdktf/hcl2json);
#   2. terraform fmt -check on all of them (when terraform is installed);
#   3. deploy/aws: terraform validate and the offline tests (mocked provider),
#      when the hashicorp/aws provider can be installed (registry or a local
#      filesystem mirror such as /opt/tf-plugins).
# deploy/alicloud cannot be validated without the aliyun/alicloud provider;
# its arguments were checked against the provider's documentation by hand.
#
# Prints "N passed, N failed" last; exits non-zero if anything failed.
# Work happens in a temporary directory: nothing is written under deploy/.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "skip $*"; }

mapfile -t files < <(cd "$here" && find . \( -name .terraform -o -name .terragrunt-cache \) -prune -o \
    -type f \( -name '*.tf' -o -name '*.hcl' -o -name '*.tfvars' -o -name '*.tfvars.example' \) -print | sort)

# 1. Parse.
if command -v node >/dev/null && command -v npm >/dev/null; then
    if (cd "$tmp" && npm install --silent --no-audit --no-fund --prefix "$tmp/npm" "@cdktf/hcl2json@${HCL2JSON_VERSION:-0.21.0}" >/dev/null 2>&1); then
        cat >"$tmp/npm/parse.mjs" <<'JS'
import { parse } from "@cdktf/hcl2json";
import { readFileSync } from "node:fs";
let bad = 0;
for (const f of process.argv.slice(2)) {
  try { await parse(f, readFileSync(f, "utf8")); console.log("ok   parse " + f); }
  catch (e) { bad++; console.log("FAIL parse " + f + ": " + (e.message || e)); }
}
process.exit(bad ? 1 : 0);
JS
        out="$(cd "$here" && node "$tmp/npm/parse.mjs" "${files[@]}")"
        echo "$out"
        passed=$((passed + $(grep -c '^ok' <<<"$out")))
        failed=$((failed + $(grep -c '^FAIL' <<<"$out")))
    else
        bad "parse: could not install @cdktf/hcl2json from npm"
    fi
else
    skip "parse: node/npm not installed"
fi

if ! command -v terraform >/dev/null; then
    skip "terraform fmt/validate/test: terraform not installed"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# 2. Format (terraform fmt reads .tf/.tfvars only: .hcl and .example files are checked as copies).
for f in "${files[@]}"; do
    case "$f" in
    *.tf | *.tfvars) src="$here/$f" ;;
    *) src="$tmp/fmt.tfvars"; [ "${f%.hcl}" != "$f" ] && src="$tmp/fmt.tf"; cp "$here/$f" "$src" ;;
    esac
    if terraform fmt -check -list=false "$src" >/dev/null 2>&1; then ok "fmt $f"; else bad "fmt $f (run terraform fmt)"; fi
done

# 3. deploy/aws: validate and offline tests.
cp -r "$here/aws" "$tmp/aws"
rm -rf "$tmp/aws/.terraform" "$tmp/aws/terraform.tfvars"
if [ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ ! -f "${TF_CLI_CONFIG_FILE}" ]; then
    if [ -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ]; then
        cat >"$tmp/cli.tfrc" <<'RC'
provider_installation {
  filesystem_mirror {
    path    = "/opt/tf-plugins"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
        export TF_CLI_CONFIG_FILE="$tmp/cli.tfrc"
    else
        unset TF_CLI_CONFIG_FILE
    fi
fi
if (cd "$tmp/aws" && terraform init -no-color -input=false -backend=false >"$tmp/init.log" 2>&1); then
    if (cd "$tmp/aws" && terraform validate -no-color); then ok "validate deploy/aws"; else bad "validate deploy/aws"; fi
    if (cd "$tmp/aws" && terraform test -no-color); then ok "test deploy/aws (offline, mocked provider)"; else bad "test deploy/aws"; fi
elif grep -q -i -E 'provider (packages|registry)|install provider|registry\.terraform\.io' "$tmp/init.log"; then
    skip "validate/test deploy/aws: the hashicorp/aws provider could not be installed"
else
    cat "$tmp/init.log"
    bad "init deploy/aws"
fi
skip "validate deploy/alicloud: needs the aliyun/alicloud provider (not installable here)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
