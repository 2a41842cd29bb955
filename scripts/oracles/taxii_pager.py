"""Pages one collection of a TAXII 2.1 server with OASIS's stock taxii2-client.

    taxii_pager.py DISCOVERY_URL USERNAME PASSWORD ALIAS LIMIT OUT_FILE [--pause-after-first-page]

Discovers the server, lists the default API root's collections, and pages the
collection whose alias is ALIAS with `limit` and `next` (taxii2client's
as_pages). Writes {"collections": [...], "pages": [n, ...], "objects": [...]}
to OUT_FILE. With --pause-after-first-page it prints "first-page" after the
first page and waits for a line on stdin before paging on, so the caller can
publish more while a client is in the middle of paging.
"""
import json
import sys

from taxii2client.v21 import Server, as_pages


def main():
    url, user, password, alias, limit, out = sys.argv[1:7]
    pause = "--pause-after-first-page" in sys.argv[7:]
    server = Server(url, user=user, password=password)
    root = server.default or server.api_roots[0]
    collections = [{"id": c.id, "alias": c.alias, "title": c.title} for c in root.collections]
    collection = next(c for c in root.collections if c.alias == alias)
    pages, objects = [], []
    for envelope in as_pages(collection.get_objects, per_request=int(limit)):
        got = envelope.get("objects", [])
        pages.append(len(got))
        objects.extend(got)
        if pause and len(pages) == 1:
            print("first-page", flush=True)
            sys.stdin.readline()
    with open(out, "w") as f:
        json.dump({"collections": collections, "pages": pages, "objects": objects}, f)
    print("done", flush=True)


if __name__ == "__main__":
    main()
