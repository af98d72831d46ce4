"""The starter notebook put into every Lab 2 notebook instance (nbformat 4 JSON)."""


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "source": text,
        "outputs": [],
        "execution_count": None,
    }


def starter_notebook(*, bucket: str, region: str) -> dict:
    bucket_line = f'BUCKET = "{bucket}"' if bucket else 'BUCKET = "<your bucket from Lab 1>"'
    cells = [
        _markdown(
            "# Lab 2: talk to your bucket with boto3\n\n"
            "Run each cell with **Shift+Enter**. This notebook instance already has "
            "credentials and a region, so boto3 needs no keys from you."
        ),
        _code(
            "import boto3\n\n"
            "session = boto3.Session()\n"
            'print("Region:", session.region_name)\n'
            'print("Who am I:", session.client("sts").get_caller_identity()["Arn"])'
        ),
        _markdown("## Your buckets\nBuckets are global by name, but each lives in one region."),
        _code(
            's3 = boto3.client("s3")\n'
            'for bucket in s3.list_buckets()["Buckets"]:\n'
            '    print(bucket["Name"])'
        ),
        _markdown(f"## The course data in your bucket ({region})"),
        _code(
            f"{bucket_line}\n\n"
            'listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="data/")\n'
            'for item in listing.get("Contents", []):\n'
            "    print(f\"{item['Key']:<28} {item['Size']:>8} bytes\")"
        ),
        _markdown(
            "## A first look at the training data\nLabel first, then the features; no header."
        ),
        _code(
            "import pandas as pd\n\n"
            'body = s3.get_object(Bucket=BUCKET, Key="data/train.csv")["Body"]\n'
            "train = pd.read_csv(body, header=None)\n"
            'print(train.shape, "rows x columns;", f"{train[0].mean():.0%} positive labels")\n'
            "train.head()"
        ),
        _markdown(
            "## Done?\nGo back to the lab page and **Stop** this notebook instance: a running "
            "instance is billed by the second even when you are not using it. Your files stay."
        ),
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
