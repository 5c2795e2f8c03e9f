#!/usr/bin/python3
"""Print, as JSON, every leaf part Python's email package extracts from
each message named on the command line: its file name (or "") and its
decoded bytes (base64). The differential test of the MIME
walker (scanner/differential_test.go) checks that the walker saw every
one of them with the same bytes. Standard library only."""
import email
import email.policy
import base64
import json
import sys


def parts(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if data is None:
            continue
        out.append({"name": part.get_filename() or "",
                    "data": base64.b64encode(data).decode()})
    return out


json.dump({p: parts(p) for p in sys.argv[1:]}, sys.stdout)
