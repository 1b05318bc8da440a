import base64
import hashlib
import json

from datasets_app.services import create_dataset
from dpo_portal.accounts import personal_account


def example(prompt="What is 2 + 2?", preferred="4.", non_preferred="5."):
    return {
        "input": {"messages": [{"role": "user", "content": prompt}]},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": non_preferred}],
    }


def jsonl_bytes(count=6):
    rows = [
        example(f"Question {n}: what is {n} + {n}?", f"It is {2 * n}.", "No idea.")
        for n in range(count)
    ]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def new_dataset(user, dataset_id="prefs"):
    return create_dataset(personal_account(user), dataset_id, user=user)


def tus_metadata(**values):
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in values.items()
    )


def tus_create(client, dataset_id, length, file_name="prefs.jsonl", **metadata):
    return client.post(
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": tus_metadata(
                filename=file_name, dataset=dataset_id, **metadata
            ),
        },
    )


def tus_patch(client, location, offset, data, **headers):
    return client.generic(
        "PATCH",
        location,
        data=data,
        content_type="application/offset+octet-stream",
        headers={"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset), **headers},
    )


def tus_checksum(algorithm, data):
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm} {base64.b64encode(digest).decode()}"
