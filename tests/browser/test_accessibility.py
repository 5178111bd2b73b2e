"""Every page of every role, audited in Chromium: axe-core (npm, pinned in tests/a11y) finds no
serious or critical WCAG 2.1 A/AA violation, and at a phone's 390 px no page scrolls sideways and
every action in a table can be reached without scrolling it."""

from pathlib import Path

import pytest

from app.access.models import Grant
from app.accounts.models import Directorship
from app.keys.models import Key
from app.services.models import Service
from tests.support import add_alt, npm_packages, sign_in

A11Y = Path(__file__).resolve().parents[1] / "a11y"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def axe_script():
    """axe-core's browser bundle, installed with npm ci once per lock file."""
    return npm_packages(A11Y, "axe-core") / "axe-core" / "axe.min.js"


@pytest.fixture()
def world(db, sandbox, make_user, key_factory, redis_client):
    """A member with a valid key and an invalid alt, a director of their corporation, an admin,
    a service the member holds, and a dead task: every page has something to show."""
    from app.jobs import deadstore

    key_id, made, _ = key_factory(status="valid")
    key = db.session.get(Key, key_id)
    member = key.user
    member.username, member.state = "member1", "member"
    member.set_password(PASSWORD)
    corporation_id = key.character.corporation_id
    alt_id = add_alt(db, sandbox, member.id, corporation_id=corporation_id)
    alt_key = db.session.scalar(db.select(Key).filter_by(character_id=alt_id))
    alt_key.status, alt_key.reason = (
        "invalid",
        "EVE refused the refresh token: the grant was revoked or has expired.",
    )
    director = make_user(role="director", username="director1", password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    make_user(role="admin", username="admin1", password=PASSWORD)
    service = Service(
        slug="forum", name="Forum", kind="webhook", auto_states="member", request_states="member,blue"
    )
    service.settings = {"url": "http://127.0.0.1:9/hook", "secret": "audit-secret"}
    db.session.add(service)
    db.session.flush()
    db.session.add(Grant(user_id=member.id, service_id=service.id, status="active", source="policy"))
    db.session.commit()
    dead = deadstore.add(
        redis_client, "bastion.keys.validate", [key_id], {}, 10, f"key:{key_id}", "GaveUp", "", 6
    )
    corp = f"/director/corporations/{corporation_id}"
    return {
        None: ["/login"],
        "member1": ["/", "/keys", "/keys/add", "/services"],
        "director1": [
            "/",
            "/director/",
            corp,
            f"{corp}/members/{member.id}",
            f"{corp}/compliance",
        ],
        "admin1": [
            "/admin/",
            "/admin/audit",
            "/admin/corporations",
            "/admin/guard",
            "/admin/keys",
            "/admin/services",
            "/admin/services/new",
            f"/admin/services/{service.id}",
            "/admin/queue",
            f"/admin/queue/dead/{dead}",
            "/admin/users",
            f"/admin/users/{member.id}",
            "/admin/watchlist",
        ],
    }


def _pages(browser, live_server, world, viewport):
    """(who, path, tab) for every page of every role, each role signed in in its own context."""
    for who, paths in world.items():
        # The page's own Content Security Policy would refuse axe's script: the audit bypasses it.
        context = browser.new_context(viewport=viewport, base_url=live_server, bypass_csp=True)
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        try:
            if who:
                sign_in(tab, who, PASSWORD, paths[0])
            for path in paths:
                answer = tab.goto(path)
                assert answer.status == 200, f"{who} {path}: {answer.status}"
                yield who, path, tab
        finally:
            context.close()


def test_axe_finds_no_serious_violation_on_any_page_of_any_role(browser, live_server, world, axe_script):
    found = []
    for who, path, tab in _pages(browser, live_server, world, {"width": 1280, "height": 800}):
        tab.add_script_tag(path=str(axe_script))
        result = tab.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
        for violation in result["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
                found.append(
                    f"{who or 'anonymous'} {path}: {violation['id']} ({violation['impact']}) {targets}"
                )
    assert found == [], "\n".join(found)


# Whether the page is wider than the screen, and every control in a table whose right edge lies
# past it (reaching it would take scrolling sideways).
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = document.documentElement.scrollWidth > width;
  const off = [];
  for (const control of document.querySelectorAll('table a, table button, table input, table select')) {
    const box = control.getBoundingClientRect();
    if (box.width && box.right > width + 1) off.push((control.innerText || control.value).trim());
  }
  return {wide: wide ? document.documentElement.scrollWidth : 0, off};
}"""


def test_on_a_phone_no_page_scrolls_sideways_and_every_action_is_in_reach(browser, live_server, world):
    found = []
    ARTIFACTS.mkdir(exist_ok=True)
    for who, path, tab in _pages(browser, live_server, world, PHONE):
        seen = tab.evaluate(_OVERFLOW)
        if seen["wide"]:
            found.append(f"{who or 'anonymous'} {path}: {seen['wide']} px wide")
        if seen["off"]:
            found.append(f"{who or 'anonymous'} {path}: out of reach {seen['off'][:4]}")
        if path in ("/keys", "/admin/keys"):
            tab.screenshot(path=str(ARTIFACTS / f"phone{path.replace('/', '-')}.png"), full_page=True)
    assert found == [], "\n".join(found)


def test_the_keyboard_finds_a_skip_link_first_and_a_visible_focus_ring_on_log_in_with_eve(page):
    page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("element => element === document.activeElement")
    assert skip.is_visible()  # shown while it has the focus
    eve = page.get_by_test_id("login-eve")
    for _ in range(10):
        page.keyboard.press("Tab")
        if eve.evaluate("element => element === document.activeElement"):
            break
    style = eve.evaluate(
        "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.backgroundColor]; }"
    )
    assert style[0] != "none" and style[1] != "0px", style  # a focus ring
    assert style[2] not in ("rgba(0, 0, 0, 0)", "transparent"), style  # and its face
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "login-eve-focused.png"))


# Jargon gets a line of help where it first appears.
HELP = {
    "/keys": "Your main character's corporation and alliance decide your state.",
    "/admin/": "Error budget: the errors ESI still allows",
    "/admin/corporations": "blue: allies",
    "/admin/services/new": "Whose corporation and alliance decide",
}


def test_jargon_gets_a_line_of_help_where_it_first_appears(browser, live_server, world):
    found = {}
    for _, path, tab in _pages(browser, live_server, world, {"width": 1280, "height": 800}):
        if path in HELP:
            found[path] = HELP[path] in tab.inner_text("main")
    assert found == dict.fromkeys(HELP, True)
