"""Notebook instances backed by real JupyterLab servers."""

from __future__ import annotations

import os
import signal

import psutil
import pytest
import requests
from botocore.exceptions import ClientError

from tests.fixtures.localcloud import ROLE_ARN
from tests.localcloud.jupyter import run_cell, split_presigned
from tests.localcloud.support import FAST_WAIT, make_bucket, unique, wait_for

REGION = "eu-west-1"


def _create(sagemaker, name):
    sagemaker.create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE_ARN
    )
    first = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
    sagemaker.get_waiter("notebook_instance_in_service").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    return first


def _server_process(localcloud, port: int) -> psutil.Process:
    for child in psutil.Process(localcloud.pid).children(recursive=True):
        try:
            if "jupyterlab" in " ".join(child.cmdline()) and f"--port={port}" in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    raise AssertionError(f"no JupyterLab server on port {port}")


@pytest.fixture(scope="module")
def notebook(localcloud):
    sagemaker = localcloud.client("sagemaker", REGION)
    name = unique("nb")
    first = _create(sagemaker, name)
    return {"name": name, "first": first}


def test_notebook_instance_is_pending_then_in_service(localcloud, notebook):
    assert notebook["first"]["NotebookInstanceStatus"] == "Pending"
    sagemaker = localcloud.client("sagemaker", REGION)
    described = sagemaker.describe_notebook_instance(NotebookInstanceName=notebook["name"])
    assert described["NotebookInstanceStatus"] == "InService"


def test_presigned_url_opens_a_token_protected_jupyterlab(localcloud, notebook):
    sagemaker = localcloud.client("sagemaker", REGION)
    url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=notebook["name"])[
        "AuthorizedUrl"
    ]
    page = requests.get(url, timeout=30)
    assert page.status_code == 200
    assert "JupyterLab" in page.text
    base, _token = split_presigned(url)
    assert requests.get(f"{base}/api/contents", timeout=30).status_code == 403


def test_a_cell_lists_the_learners_buckets_and_classic_sdk_cells_work(localcloud, notebook):
    s3 = localcloud.client("s3", REGION)
    bucket = make_bucket(s3, REGION)
    sagemaker = localcloud.client("sagemaker", REGION)
    url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=notebook["name"])[
        "AuthorizedUrl"
    ]
    output = run_cell(
        *split_presigned(url),
        "import boto3\n"
        "print('BUCKETS', *[b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']])\n"
        "import sagemaker\n"
        "from sagemaker import get_execution_role\n"
        "session = sagemaker.Session()\n"
        "print('REGION', session.boto_region_name)\n"
        "print('DEFAULT', session.default_bucket())\n"
        "print('ROLE', get_execution_role())\n",
    )
    lines = dict(line.split(" ", 1) for line in output.strip().splitlines() if " " in line)
    assert bucket in lines["BUCKETS"].split()
    assert lines["REGION"] == REGION
    assert lines["DEFAULT"] == f"sagemaker-{REGION}-123456789012"
    assert lines["ROLE"] == ROLE_ARN
    s3.head_bucket(Bucket=lines["DEFAULT"])


def test_a_kernel_inherits_none_of_the_servers_settings_and_no_one_sees_its_token(
    localcloud, notebook
):
    # localcloud runs beside the portal, with its settings and secrets in its environment.
    server_env = psutil.Process(localcloud.pid).environ()
    secrets = [name for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL") if name in server_env]
    assert secrets, "the test environment should give localcloud something to leak"
    sagemaker = localcloud.client("sagemaker", REGION)
    url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=notebook["name"])[
        "AuthorizedUrl"
    ]
    base, token = split_presigned(url)

    output = run_cell(
        base,
        token,
        "import glob, os\n"
        f"print('LEAKED', *[n for n in {secrets!r} if n in os.environ], '-')\n"
        "shown = []\n"
        "for path in glob.glob('/proc/[0-9]*/cmdline'):\n"
        "    try:\n"
        f"        if {token.encode()!r} in open(path, 'rb').read():\n"
        "            shown.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('SHOWN', *shown, '-')\n",
    )

    lines = dict(line.split(" ", 1) for line in output.strip().splitlines() if " " in line)
    assert lines["LEAKED"] == "-"
    # A token on a command line is readable by every user of the machine (ps).
    assert lines["SHOWN"] == "-"


def test_stop_keeps_files_start_brings_them_back_delete_removes_them(localcloud):
    sagemaker = localcloud.client("sagemaker", REGION)
    name = unique("nb-files")
    _create(sagemaker, name)
    url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=name)[
        "AuthorizedUrl"
    ]
    base, token = split_presigned(url)
    headers = {"Authorization": f"token {token}"}
    saved = requests.put(
        f"{base}/api/contents/hello.txt",
        headers=headers,
        json={"type": "file", "format": "text", "content": "kept"},
        timeout=30,
    )
    assert saved.status_code in (200, 201)

    sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    assert sagemaker.describe_notebook_instance(NotebookInstanceName=name)[
        "NotebookInstanceStatus"
    ] in ("Stopping", "Stopped")
    sagemaker.get_waiter("notebook_instance_stopped").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/api/status", headers=headers, timeout=5)

    sagemaker.start_notebook_instance(NotebookInstanceName=name)
    sagemaker.get_waiter("notebook_instance_in_service").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=name)[
        "AuthorizedUrl"
    ]
    base, token = split_presigned(url)
    kept = requests.get(
        f"{base}/api/contents/hello.txt", headers={"Authorization": f"token {token}"}, timeout=30
    )
    assert kept.json()["content"] == "kept"

    sagemaker.stop_notebook_instance(NotebookInstanceName=name)
    sagemaker.get_waiter("notebook_instance_stopped").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    sagemaker.delete_notebook_instance(NotebookInstanceName=name)
    sagemaker.get_waiter("notebook_instance_deleted").wait(
        NotebookInstanceName=name, WaiterConfig=FAST_WAIT
    )
    leftovers = [p for p in (localcloud.data_dir / "notebooks").rglob(name) if p.exists()]
    assert leftovers == []


def test_deleting_an_in_service_instance_is_refused(localcloud, notebook):
    sagemaker = localcloud.client("sagemaker", REGION)
    with pytest.raises(ClientError) as caught:
        sagemaker.delete_notebook_instance(NotebookInstanceName=notebook["name"])
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_killed_jupyterlab_server_shows_failed_with_reason(localcloud):
    sagemaker = localcloud.client("sagemaker", REGION)
    name = unique("nb-kill")
    _create(sagemaker, name)
    url = sagemaker.create_presigned_notebook_instance_url(NotebookInstanceName=name)[
        "AuthorizedUrl"
    ]
    port = int(split_presigned(url)[0].rsplit(":", 1)[1])
    os.kill(_server_process(localcloud, port).pid, signal.SIGKILL)
    described = wait_for(
        lambda: sagemaker.describe_notebook_instance(NotebookInstanceName=name),
        lambda d: d["NotebookInstanceStatus"] != "InService",
        timeout=10,
    )
    assert described["NotebookInstanceStatus"] == "Failed"
    assert "stopped unexpectedly" in described["FailureReason"]
    sagemaker.delete_notebook_instance(NotebookInstanceName=name)
