"""Builds MISP events with PyMISP itself, the oracle of the MISP importer's tests.

    misp_events.py OUT_DIR [FEED_EVENT_FILE ...]

Writes, with MISPEvent/MISPObject and PyMISP's own serializers:
  OUT_DIR/event.json         one event with every mapped attribute type, objects,
                             a few unmapped types, TLP tags and to_ids on and off
                             (MISPEvent.to_json(), the bare event PyMISP writes)
  OUT_DIR/event-edited.json  the same event with one attribute edited (its value
                             and a later timestamp), wrapped as {"Event": ...}
  OUT_DIR/feed/              a MISP feed: each event as to_feed() writes it, and
                             manifest.json and hashes.csv from PyMISP's
                             feed_meta_generator; FEED_EVENT_FILEs (real feed
                             events) are loaded with MISPEvent and added to it
Prints {"attributes": [...]} on stdout: every attribute of event.json as PyMISP
holds it (uuid, type, value, to_ids, object and relation), for the test to
compare receipts with.
"""
import json
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

from pymisp import MISPEvent, MISPObject, MISPOrganisation
from pymisp.tools.feed import feed_meta_generator

T0 = 1793000000  # 2026-10-25T08:53:20Z
ORGC = {"name": "ThreatRelay test org", "uuid": "0b9c5a4e-2f1d-4c3b-8a7e-6d5f4e3c2b1a"}

MAPPED = [
    ("domain", "evil-ballot.example.com"),
    ("hostname", "www.evil-ballot.example.com"),
    ("url", "https://evil-ballot.example.com/vote?id=1"),
    ("uri", "https://evil-ballot.example.com/login"),
    ("link", "https://evil-ballot.example.com/landing"),
    ("ip-src", "203.0.113.7"),
    ("ip-dst", "2001:db8::7"),
    ("ip-src|port", "198.51.100.7|8080"),
    ("ip-dst|port", "192.0.2.44|443"),
    ("hostname|port", "mail.evil-ballot.example.com|25"),
    ("domain|ip", "polls-live.example.net|203.0.113.8"),
    ("email", "ballots@evil-ballot.example.com"),
    ("email-src", "phish@evil-ballot.example.com"),
    ("email-dst", "victim-sink@evil-ballot.example.com"),
    ("email-reply-to", "reply@evil-ballot.example.com"),
    ("whois-registrant-email", "registrant@evil-ballot.example.com"),
    ("md5", "5d41402abc4b2a76b9719d911017c592"),
    ("sha1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
    ("sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
    ("filename|md5", "ballot.exe|9e107d9d372bb6826bd81d3542a419d6"),
    ("filename|sha1", "ballot.exe|2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
    ("filename|sha256", "ballot.exe|d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ("AS", "AS64500"),
    ("phone-number", "+12025550143"),
    ("whois-registrant-phone", "+12025550144"),
    ("twitter-id", "precinct_watch_bot"),
    ("github-username", "ballot-leaks"),
]

UNMAPPED = [
    ("text", "Key: 85350044dF4AC3518D185678A9414A7F"),
    ("comment", "UPX packed"),
    ("user-agent", "Mozilla/5.0 (BallotBot)"),
    ("mutex", "Global\\ballot-mutex"),
    ("regkey", "HKLM\\Software\\Ballot"),
]


def organisation():
    org = MISPOrganisation()
    org.from_dict(**ORGC)
    return org


def build_event():
    event = MISPEvent()
    event.uuid = "6f0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d"
    event.info = "Election lookalike infrastructure"
    event.threat_level_id = 1
    event.date = "2026-10-25"
    event.timestamp = T0
    event.Orgc = organisation()
    event.add_tag("tlp:green")
    event.add_tag('misp-galaxy:threat-actor="Storm Lantern"')
    for i, (kind, value) in enumerate(MAPPED):
        a = event.add_attribute(kind, value, to_ids=True, comment=f"{kind} seen in the campaign")
        a.timestamp = T0 + i
    for kind, value in UNMAPPED:
        event.add_attribute(kind, value, to_ids=False).timestamp = T0
    event.add_attribute("link", "https://blog.example.org/ballot-report", to_ids=False).timestamp = T0
    event.add_attribute("domain", "not-for-detection.example.com", to_ids=False).timestamp = T0
    red = event.add_attribute("domain", "red-only.example.com", to_ids=True)
    red.add_tag("tlp:red")
    red.timestamp = T0
    amber = event.add_attribute("ip-dst", "203.0.113.9", to_ids=True)
    amber.add_tag("tlp:amber")
    amber.add_tag('rsit:malicious-code="c2-server"')
    amber.timestamp = T0
    white = event.add_attribute("domain", "looks-white.example.com", to_ids=True)
    white.add_tag("tlp:white")
    white.timestamp = T0
    phish = event.add_attribute("url", "https://evil-ballot.example.com/signin", to_ids=True)
    phish.add_tag('rsit:fraud="phishing"')
    phish.add_tag("misp:confidence-level=\"usually-confident\"")
    phish.first_seen = datetime(2026, 10, 1, tzinfo=timezone.utc)
    phish.last_seen = datetime(2026, 10, 20, tzinfo=timezone.utc)
    phish.timestamp = T0
    bad = event.add_attribute("domain", "no-public-suffix.invalidtld", to_ids=True)
    bad.timestamp = T0
    add_objects(event)
    stable_uuids(event)
    return event


def stable_uuids(event):
    # Random uuids by default; the edited copy must name the same attributes. PyMISP
    # counts a changed field as an edit and then leaves timestamps out of its JSON
    # (the MISP server would set new ones), so the flags are reset: these are the
    # events as a MISP instance exports them, timestamps included.
    namespace = uuid.UUID(event.uuid)
    for i, a in enumerate(event.attributes):
        a.uuid = str(uuid.uuid5(namespace, f"attribute/{i}"))
        a.edited = False
    for i, o in enumerate(event.objects):
        o.uuid = str(uuid.uuid5(namespace, f"object/{i}"))
        for j, a in enumerate(o.attributes):
            a.uuid = str(uuid.uuid5(namespace, f"object/{i}/{j}"))
            a.edited = False
        o.edited = False
    event.edited = False


def add_objects(event):
    micro = MISPObject("microblog")
    micro.add_attribute("username", "ballot_bot", to_ids=True)
    micro.add_attribute("hashtag", "StopTheCount2026", to_ids=True)
    micro.add_attribute("type", "Twitter")
    twitter = MISPObject("twitter-account")
    twitter.add_attribute("name", "fake_precinct", to_ids=True)
    facebook = MISPObject("facebook-account")
    facebook.add_attribute("account-name", "fake.county.news", to_ids=True)
    github = MISPObject("github-user")
    github.add_attribute("username", "leaker", to_ids=True)
    github.add_attribute("follower", "innocent-bystander", to_ids=True)
    domain_ip = MISPObject("domain-ip")
    domain_ip.add_attribute("domain", "object-domain.example.net", to_ids=True)
    domain_ip.add_attribute("ip", "198.51.100.99", to_ids=True)
    file = MISPObject("file")
    file.add_attribute("filename", "dropper.js", to_ids=False)
    file.add_attribute("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856", to_ids=True)
    for obj in (micro, twitter, facebook, github, domain_ip, file):
        for a in obj.attributes:
            a.timestamp = T0
        event.add_object(obj)


def describe(event):
    out = []
    for a in event.attributes:
        out.append({"uuid": a.uuid, "type": a.type, "value": a.value, "to_ids": a.to_ids, "tags": [t.name for t in a.tags]})
    for o in event.objects:
        for a in o.attributes:
            out.append({"uuid": a.uuid, "type": a.type, "value": a.value, "to_ids": a.to_ids, "tags": [],
                        "object": o.name, "relation": a.object_relation})
    return out


def second_event():
    event = MISPEvent()
    event.uuid = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    event.info = "Phishing kit hosts"
    event.threat_level_id = 2
    event.date = "2026-10-26"
    event.timestamp = T0
    event.Orgc = organisation()
    event.add_tag("tlp:clear")
    event.add_tag('circl:incident-classification="phishing"')
    event.add_attribute("domain|ip", "kit-host.example.org|192.0.2.77", to_ids=True).timestamp = T0
    event.add_attribute("url", "https://kit-host.example.org/secure", to_ids=True).timestamp = T0
    return event


def main():
    out = Path(sys.argv[1])
    feed = out / "feed"
    feed.mkdir(parents=True, exist_ok=True)
    event = build_event()
    (out / "event.json").write_text(event.to_json())
    edited = build_event()
    target = next(a for a in edited.attributes if a.type == "domain")
    target.value = "evil-ballot-v2.example.com"
    target.timestamp = T0 + 3600
    target.edited = False
    edited.edited = False
    (out / "event-edited.json").write_text(json.dumps({"Event": json.loads(edited.to_json())}))
    feed_events = [event, second_event()]
    for path in sys.argv[2:]:
        real = MISPEvent()
        real.load_file(path)
        feed_events.append(real)
    for e in feed_events:
        (feed / f"{e.uuid}.json").write_text(json.dumps(e.to_feed()))
    feed_meta_generator(feed)
    json.dump({"attributes": describe(event)}, sys.stdout)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
