"""``s3://`` objects through boto3; credentials from boto3's standard chain (environment,
shared profile or SSO, web identity, instance metadata)."""

from __future__ import annotations

from typing import Any, BinaryIO

from mlreport.connectors.objstore.options import Settings
from mlreport.connectors.objstore.store import CHUNK, Remote


class S3Store:
    def __init__(self, bucket: str, settings: Settings) -> None:
        try:
            import boto3
        except ImportError:
            raise ImportError("s3:// paths need boto3: pip install 'mlreport[s3]'") from None
        self.bucket = bucket
        # endpoint_url None: boto3 reads AWS_ENDPOINT_URL(_S3) itself
        self.client: Any = boto3.session.Session().client("s3", endpoint_url=settings.endpoint_url)

    def list(self, prefix: str) -> list[Remote]:
        out = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue
                etag = str(item.get("ETag", "")).strip('"')
                out.append(Remote(item["Key"], etag, int(item["Size"])))
        return out

    def download(self, obj: Remote, out: BinaryIO) -> None:
        body = self.client.get_object(Bucket=self.bucket, Key=obj.key, IfMatch=f'"{obj.etag}"')
        for chunk in body["Body"].iter_chunks(CHUNK):
            out.write(chunk)

    def explain(self, exc: BaseException) -> str:
        name = type(exc).__name__
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return (
                f"the bucket {self.bucket!r} does not exist (check the name, region and endpoint)"
            )
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return (
                f"the AWS credentials were refused ({code}); renew them in the environment or "
                "profile"
            )
        if code in ("AccessDenied", "AllAccessDisabled", "403") or status == 403:
            return (
                "access denied: the credentials from the environment or AWS profile may not "
                "list or read these objects (check the IAM policy)"
            )
        if code in ("PreconditionFailed", "412"):
            return "the object changed while it was read; run the sync again"
        if code in ("NoSuchKey", "404"):
            return "the object is gone (deleted while the sync ran); run the sync again"
        if name == "NoCredentialsError":
            return (
                "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                "AWS_PROFILE, or run with a workload identity)"
            )
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
            return (
                "cannot reach the object store (check endpoint_url or AWS_ENDPOINT_URL, the "
                "region and network)"
            )
        return f"object storage request failed ({code or name})"
