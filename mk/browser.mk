# Headless Chromium (Debian packages) for the campaign page test in a real browser
# (tests/ui/test_campaign_page.py). Included by the Makefile; also usable alone: make -f mk/browser.mk browser
CHROMIUM_PACKAGES := chromium chromium-driver

.PHONY: browser

browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "headless browser: $$(chromium --version 2>/dev/null | head -1), $$(chromedriver --version 2>/dev/null | head -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(CHROMIUM_PACKAGES) from Debian packages (first time: ~1 min) ..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq $(CHROMIUM_PACKAGES) >/dev/null \
			&& echo "headless browser: $$(chromium --version 2>/dev/null | head -1)"; \
	else \
		echo "Headless Chromium is missing (the browser test skips without it). Install it as root:"; \
		echo "  sudo apt-get update && sudo apt-get install -y $(CHROMIUM_PACKAGES)"; \
		exit 1; \
	fi
