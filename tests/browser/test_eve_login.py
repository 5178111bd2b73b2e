"""A real browser logs in with EVE through the sandbox, adds a character, removes it, and logs in again."""

from pathlib import Path

from tests.support import wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def rows(page):
    return page.get_by_test_id("key-row")


def test_member_journey_with_eve_login(page, sandbox, db):
    page.goto("/login")
    page.get_by_test_id("login-eve").click()
    page.get_by_text("EVE sandbox").first.wait_for()
    page.get_by_label("New character name").fill("Browser Main")
    page.get_by_role("button", name="Create and authorize").click()
    page.wait_for_url("**/")
    page.get_by_role("heading", name="Welcome, Browser Main").wait_for()

    page.get_by_role("link", name="My keys", exact=True).click()
    page.wait_for_url("**/keys")
    page.get_by_test_id("add-character").click()
    page.get_by_label("New character name").fill("Browser Alt")
    page.get_by_role("button", name="Create and authorize").click()
    page.get_by_text("Browser Alt was added").wait_for()
    assert rows(page).count() == 2
    main_row = page.locator('[data-testid="key-row"][data-character="Browser Main"]')
    assert "main" in main_row.inner_text() and "pending" in main_row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "my-keys.png"), full_page=True)

    alt_row = page.locator('[data-testid="key-row"][data-character="Browser Alt"]')
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    alt_row.get_by_role("button", name="Remove").click()
    wait_for(lambda: dialogs, timeout=10, message="the confirmation dialog")
    assert "Remove the key of Browser Alt" in dialogs[0]
    assert "Browser Alt stays on your account" in dialogs[0]  # only the key goes
    assert rows(page).count() == 2 and alt_row.get_by_role("button", name="Remove").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    alt_row.get_by_role("button", name="Remove").click()
    page.get_by_text("removed and revoked at EVE").wait_for()  # the page after the POST and redirect
    assert alt_row.get_by_text("no key").is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    page.get_by_test_id("login-eve").click()
    page.get_by_label("Character", exact=True).select_option(label="Browser Main")
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url("**/")
    page.get_by_role("heading", name="Welcome, Browser Main").wait_for()
    page.goto("/keys")
    assert rows(page).count() == 2
    assert "pending" in page.locator('[data-testid="key-row"][data-character="Browser Main"]').inner_text()


def test_a_new_key_shows_its_verdict_without_a_reload(page, sandbox, db, redis_client, consumer):
    page.goto("/login")
    page.get_by_test_id("login-eve").click()
    page.get_by_label("New character name").fill("Live Pilot")
    page.get_by_role("button", name="Create and authorize").click()
    page.wait_for_url("**/")
    page.goto("/keys")
    row = page.locator('[data-testid="key-row"][data-character="Live Pilot"]')
    assert "pending" in row.get_by_test_id("key-status").inner_text()
    loads = []
    page.on("load", lambda: loads.append(page.url))
    consumer(periodic=False)  # the queued check runs now; the row polls until the verdict arrives
    row.get_by_text("valid", exact=True).wait_for(timeout=30_000)
    assert loads == []  # no page load happened: the row updated itself
    news = page.get_by_test_id("check-news")  # and the end of the check is said, to screen readers too
    assert news.inner_text() == "Live Pilot: checked, valid." and news.get_attribute("aria-live") == "polite"
    assert row.get_by_role("button", name="Check now").is_enabled()
    page.screenshot(path=str(ARTIFACTS / "my-keys-live.png"), full_page=True)


def test_an_address_past_its_callback_limit_reads_why_and_eve_is_not_asked(
    app, page, sandbox, db, redis_client, monkeypatch
):
    """The EVE login's callback is limited per address: past it, the member reads what happened and
    what to do, and Bastion does not spend a call to EVE's token endpoint on it."""
    monkeypatch.setitem(app.config, "SSO_CALLBACK_LIMIT_PER_ADDRESS", "1 per 5 minutes")

    def token_calls():
        calls = sandbox.control("GET", "/stats")["calls"]
        return sum(count for route, count in calls.items() if route.startswith("POST /v2/oauth/token"))

    page.goto("/login")
    page.get_by_test_id("login-eve").click()
    page.get_by_label("New character name").fill("Limited Pilot")
    page.get_by_role("button", name="Create and authorize").click()
    page.get_by_role("heading", name="Welcome, Limited Pilot").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    before = token_calls()
    page.get_by_test_id("login-eve").click()
    page.get_by_label("Character", exact=True).select_option(label="Limited Pilot")
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.get_by_text("Too many sign-in attempts. Wait a few minutes, then try again.").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "eve-login-limited.png"), full_page=True)
    assert token_calls() == before  # EVE was not asked to swap the code
    assert "Welcome" not in page.content()
