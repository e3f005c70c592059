#!/usr/bin/env bash
# Regenerates docs/web.png (the server's flow, the shipped VGG decoder), docs/web-browser.png and
# docs/web-phone.png (the in-browser flow at desktop and phone width): the browser tests
# (tests/browser.rs) drive Debian's Chromium through chromedriver on committed photos and
# gallery paintings, and photograph the page.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
scripts/setup.sh
ADAIN_SCREENSHOT="$root/docs/web.png" ADAIN_SCREENSHOTS="$root/docs" cargo test --test browser -- --nocapture
echo "docs/web.png docs/web-browser.png docs/web-phone.png"
