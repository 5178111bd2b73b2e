"""What a new user meets, in a real browser: the standing decided on the home page as it happens,
My services that say what is missing and let a request be taken back, a service editor showing
only what its kind needs, a date-time picker for expiries, tracking a corporation by its name, and
a director's header that counts everyone whatever the filter."""

from pathlib import Path

from app.access.grants import grant_manually
from app.access.models import AccessRequest
from app.accounts.models import Directorship, User
from app.clock import utcnow
from app.corps.models import Character, Corporation
from app.keys.models import Key
from app.services.models import Service
from tests.support import sign_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "fly safe o7 always"


def _service(db, slug, name, kind, auto="", **fields):
    service = Service(slug=slug, name=name, kind=kind, auto_states=auto, **fields)
    service.settings = fields.pop("settings", None) or {}
    db.session.add(service)
    db.session.commit()
    return service


def _member_with_password(db, key_factory, username):
    key_id, made, _ = key_factory(status="valid")
    user = db.session.get(Key, key_id).user
    user.username, user.state = username, "member"
    user.set_password(PASSWORD)
    db.session.commit()
    return user, made


def test_a_new_members_standing_is_decided_on_the_home_page_without_a_reload(
    page, db, sandbox, consumer, redis_client
):
    corp = sandbox.control("POST", "/corporations", json={"name": "Standing Corp", "ticker": "STND"})
    sandbox.control(
        "POST", "/characters", json={"name": "Fresh Pilot", "corporation_id": corp["corporation_id"]}
    )
    db.session.add(
        Corporation(id=corp["corporation_id"], name="Standing Corp", ticker="STND", tracked_as="member")
    )
    db.session.commit()
    page.goto("/login")
    page.get_by_test_id("login-eve").click()
    page.get_by_label("Character", exact=True).select_option(label="Fresh Pilot")
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.get_by_role("heading", name="Welcome, Fresh Pilot").wait_for()
    # While the first check runs the page says so, not "guest", and greets once.
    assert page.get_by_test_id("standing-checking").inner_text().strip() == (
        "Checking your character with EVE… this updates by itself."
    )
    assert page.get_by_test_id("standing-state").count() == 0
    assert page.get_by_test_id("guest-why").count() == 0
    assert "Welcome, Fresh Pilot." not in page.content()  # no second greeting in a flash
    # Beside "Your state: guest" the header names no role: "member" would read as a state.
    assert page.get_by_test_id("current-user").inner_text().strip() == "Fresh Pilot"
    assert page.get_by_test_id("current-role").count() == 0
    page.screenshot(path=str(ARTIFACTS / "new-member-guest.png"))
    page.wait_for_load_state("load")  # the login's last page load is over before counting any
    loads = []
    page.on("load", lambda: loads.append(page.url))
    consumer(periodic=False)  # the queued check runs; the standing follows it
    page.get_by_test_id("standing-state").get_by_text("member", exact=True).wait_for(timeout=30_000)
    page.get_by_test_id("standing-settling").wait_for(state="detached", timeout=10_000)
    page.get_by_test_id("standing-checking").wait_for(state="detached", timeout=10_000)
    assert loads == []
    assert "valid 1" in page.get_by_test_id("standing").inner_text()


def test_my_services_say_what_is_missing_and_a_request_can_be_withdrawn(page, db, key_factory, make_user):
    member, _ = _member_with_password(db, key_factory, "newpilot")
    director = make_user(role="admin", username="granter", password=PASSWORD)
    _service(
        db,
        "discord",
        "Alliance Discord",
        "discord",
        auto="member",
        settings={"guild_id": "1", "role_ids": ["2"]},
    )
    _service(
        db,
        "wiki",
        "Alliance wiki",
        "forward_auth",
        auto="member",
        settings={"url": "https://wiki.example.org/"},
    )
    _service(db, "forum", "Forum", "forward_auth", request_states="member", requires_approval=True)
    srp = _service(db, "srp", "SRP", "forward_auth", request_states="member", requires_approval=True)
    titans = _service(
        db, "titans", "Titan fleet", "forward_auth", request_states="member", requires_approval=True
    )
    for service in (srp, titans):
        db.session.add(
            AccessRequest(
                user_id=member.id,
                service_id=service.id,
                status="denied",
                decided_at=utcnow(),
                decision_reason="Not yet",
            )
        )
    db.session.commit()
    from app.access.reconcile import reconcile_user

    reconcile_user(member.id)
    grant_manually(db.session.get(User, member.id), srp, db.session.get(User, director.id), reason="Now yes")

    sign_in(page, "newpilot", PASSWORD, "/services")
    mine = page.get_by_test_id("my-services")
    discord_row = mine.locator('[data-service="discord"]')
    # Granted but not linked: no green "active", no third person; what to do, in the member's words.
    assert discord_row.get_by_test_id("discord-not-linked").inner_text() == "Action needed"
    assert "Link your Discord account" in discord_row.inner_text()
    assert "active" not in discord_row.inner_text() and "the member" not in discord_row.inner_text()
    link = mine.locator('[data-service="wiki"]').get_by_test_id("service-link")
    assert link.get_attribute("href") == "https://wiki.example.org/"
    # A denial stays beside a service only while the service is not granted.
    denied = page.get_by_text("Recently denied").locator("..")
    assert "Titan fleet" in denied.inner_text() and "SRP" not in denied.inner_text()

    page.locator("#note-forum").fill("I write doctrines")
    page.get_by_test_id("available-services").locator('[data-service="forum"]').get_by_role(
        "button", name="Request access"
    ).click()
    pending = page.get_by_test_id("pending-requests").locator('[data-service="forum"]')
    pending.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "my-services-edges.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    pending.get_by_role("button", name="Withdraw").click()
    page.get_by_text("Your request for Forum is withdrawn.").wait_for()
    assert page.get_by_test_id("pending-requests").count() == 0
    assert (
        db.session.scalars(db.select(AccessRequest).filter_by(status="withdrawn")).one().service.slug
        == "forum"
    )
    # It can be asked for again.
    assert page.get_by_test_id("available-services").locator('[data-service="forum"]').count() == 1


def test_the_service_editor_shows_only_the_fields_of_the_chosen_kind(page, db, make_user, redis_client):
    make_user(role="admin", username="editor", password=PASSWORD)
    sign_in(page, "editor", PASSWORD, "/admin/services/new")
    kind = page.get_by_label("Kind")
    webhook_url, guild, site = (
        page.get_by_label("Webhook URL"),
        page.get_by_label("Discord server id"),
        page.get_by_label("Site address"),
    )
    kind.select_option("webhook")
    assert webhook_url.is_visible() and not guild.is_visible() and not site.is_visible()
    kind.select_option("discord")
    assert guild.is_visible() and not webhook_url.is_visible() and not site.is_visible()
    kind.select_option("forward_auth")
    assert site.is_visible() and not webhook_url.is_visible() and not guild.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "service-editor-forward-auth.png"), full_page=True)
    page.get_by_label("Name", exact=True).fill("Fleet wiki")
    page.get_by_label("Short name").fill("fleet-wiki")
    site.fill("not an address")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Give the site's address, starting with https://.").wait_for()
    page.get_by_label("Site address").fill("https://fleet.example.org")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Fleet wiki was added").wait_for()
    assert page.get_by_label("Site address").input_value() == "https://fleet.example.org"
    page.get_by_label("Webhook URL").wait_for(state="hidden")  # the editor's script hides it on load
    service = db.session.scalars(db.select(Service).filter_by(slug="fleet-wiki")).one()
    assert service.settings == {"url": "https://fleet.example.org"}


def test_an_expiry_is_picked_as_a_date_and_time_within_five_years(page, db, key_factory, make_user):
    member, made = _member_with_password(db, key_factory, "pilot9")
    _service(db, "wiki", "Alliance wiki", "forward_auth", directors_may_grant=True)
    director = make_user(role="director", username="dir9", password=PASSWORD)
    db.session.add(
        Directorship(user_id=director.id, corporation_id=made["corporation_id"], source="appointed")
    )
    db.session.commit()
    sign_in(page, "dir9", PASSWORD, f"/director/corporations/{made['corporation_id']}/members/{member.id}")
    expiry = page.get_by_label("Expires (UTC, optional)")
    assert expiry.get_attribute("type") == "datetime-local"
    now = utcnow()
    assert expiry.get_attribute("min") > now.strftime("%Y-%m-%dT%H:%M")
    assert expiry.get_attribute("max").startswith(str(now.year + 5)[:3])
    form = page.get_by_test_id("grant-form")
    expiry.fill(f"{now.year + 7}-01-01T12:00")
    form.get_by_role("button", name="Grant").click()
    page.get_by_text("The expiry can be at most five years away.").wait_for()
    page.get_by_label("Expires (UTC, optional)").fill(f"{now.year - 1}-01-01T12:00")
    page.get_by_test_id("grant-form").get_by_role("button", name="Grant").click()
    page.get_by_text("The expiry must be in the future.").wait_for()
    page.get_by_label("Service").select_option("wiki")
    page.get_by_label("Expires (UTC, optional)").fill(f"{now.year + 1}-06-30T18:00")
    page.get_by_test_id("grant-form").get_by_role("button", name="Grant").click()
    page.get_by_text(f"until {now.year + 1}-06-30 18:00:00 UTC").first.wait_for()


def test_an_admin_tracks_a_corporation_by_its_name(page, db, sandbox, make_user, redis_client):
    sandbox.control("POST", "/corporations", json={"name": "Named Holdings", "ticker": "NAMED"})
    make_user(role="admin", username="tracker", password=PASSWORD)
    sign_in(page, "tracker", PASSWORD, "/admin/corporations")
    page.get_by_label("EVE id or name").fill("named holdings")  # any case
    page.get_by_label("Counts as").select_option("blue")
    page.get_by_role("button", name="Track").click()
    page.get_by_text("Named Holdings [NAMED] counts as blue now").wait_for()
    page.get_by_label("EVE id or name").fill("Nobody Of That Name")
    page.get_by_role("button", name="Track").click()
    page.get_by_text("EVE knows no corporation named 'Nobody Of That Name'").wait_for()
    # A ticker Bastion knows finds it too.
    page.get_by_label("EVE id or name").fill("named")
    page.get_by_label("Counts as").select_option("member")
    page.get_by_role("button", name="Track").click()
    page.get_by_text("Named Holdings [NAMED] counts as member now").wait_for()


def test_the_directors_header_counts_everyone_whatever_the_filter(page, db, key_factory, make_user):
    member, made = _member_with_password(db, key_factory, "keyed")
    corporation_id = made["corporation_id"]
    for number in (1, 2):
        user = make_user(username=f"keyless{number}", state="member")
        character = Character(
            id=9_100_000 + number, name=f"Keyless {number}", user_id=user.id, corporation_id=corporation_id
        )
        db.session.add(character)
        db.session.flush()
        user.main_character_id = character.id
    director = make_user(role="director", username="counter", password=PASSWORD)
    db.session.add(Directorship(user_id=director.id, corporation_id=corporation_id, source="appointed"))
    db.session.commit()
    sign_in(page, "counter", PASSWORD, f"/director/corporations/{corporation_id}")
    assert page.get_by_test_id("members-total").inner_text() == "3 members in Bastion"
    page.get_by_role("link", name="No keys").click()
    page.wait_for_url(lambda url: url.endswith("filter=nokeys"))
    assert page.get_by_test_id("members-total").inner_text() == "3 members in Bastion"
    assert page.get_by_test_id("filtered-count").inner_text() == "2 of 3 shown"


def test_a_guest_reads_why_and_what_to_do_and_a_member_what_is_left(page, db, sandbox, key_factory):
    user, _ = _member_with_password(db, key_factory, "guestpilot")
    corporation = user.main_character.corporation
    corporation.tracked_as = None  # the main's corporation is not part of the alliance
    user.state = "guest"
    user.reconciled_at = utcnow()
    db.session.commit()
    sign_in(page, "guestpilot", PASSWORD, "/")
    why = page.get_by_test_id("guest-why")
    assert "your main character Val Pilot is in Validation Corp, which is not part of this alliance" in (
        why.inner_text()
    )
    assert why.get_by_role("button", name="Check now").is_visible()
    assert why.get_by_role("link", name="My keys").get_attribute("href") == "/keys"
    page.screenshot(path=str(ARTIFACTS / "guest-why.png"))

    corporation.tracked_as = "member"
    user.state = "member"
    _service(db, "discord", "Alliance Discord", kind="discord", auto="member")
    _service(db, "voice", "Voice", kind="mumble", auto="member")
    _service(db, "srp", "SRP", kind="webhook", request_states="member")
    from app.access.reconcile import reconcile_user

    reconcile_user(user.id)
    db.session.commit()
    page.reload()
    assert page.get_by_test_id("guest-why").count() == 0
    steps = page.get_by_test_id("next-steps").inner_text()
    assert "Link your Discord account to get your roles." in steps
    assert "Make your password for Voice (voice)." in steps
    assert "Ask for SRP." in steps


def test_one_thing_to_do_for_several_services_is_said_once(page, db, key_factory):
    user, _ = _member_with_password(db, key_factory, "onceguest")
    user.main_character.corporation.tracked_as = None
    user.state = "guest"
    db.session.commit()
    for slug in ("forum", "wiki", "killboard"):
        _service(db, slug, slug.capitalize(), kind="webhook", auto="member")
    sign_in(page, "onceguest", PASSWORD, "/services")
    shared = page.get_by_test_id("shared-remedy")
    assert shared.inner_text().startswith("What to do, for 3 services: ")
    assert page.get_by_test_id("why-remedy").count() == 0
    assert page.get_by_test_id("why").count() == 3
