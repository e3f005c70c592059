#!/usr/bin/env bash
# Regenerates docs/web.png: the browser test (tests/browser.rs) drives Debian's Chromium
# through chromedriver, stylizes a committed photo with a gallery painting on the shipped
# decoder, and photographs the page.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
scripts/setup.sh
ADAIN_SCREENSHOT="$root/docs/web.png" cargo test --test browser -- --nocapture
echo "docs/web.png"
