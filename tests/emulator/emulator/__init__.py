"""moto's server plus what moto 5.2.5 lacks, for lambda-edge-deploy's tests.

Every extension works on moto's own backends and models: moto stays the single source of state,
and the patches only fill the gaps between moto and the real services that the tool meets. Each
comes with the AWS behaviour it reproduces. By service:

    cloudfront.py      Lambda associations kept; deployments that take time; UpdateDistribution's
                       ETag and If-Match; CallerReference idempotency; invalidations InProgress then
                       Completed; when each Lambda@Edge version lost its last association (its
                       replicas); the AWS::CloudFront::Distribution CloudFormation model
    continuous.py      CloudFront continuous deployment: the continuous deployment policy API and
                       its checks, DistributionConfig.Staging and .ContinuousDeploymentPolicyId and
                       what CloudFront refuses of them, CopyDistribution,
                       UpdateDistributionWithStagingConfig, policy changes that deploy with the
                       primary; the AWS::CloudFront::ContinuousDeploymentPolicy CloudFormation model
    associations.py    every Lambda@Edge association each distribution has had, and when (served
                       by the control API)
    cloudformation.py  operations that take time, in AWS's order, with real rollbacks;
                       what CloudFormation refuses meanwhile; ClientRequestToken idempotency;
                       UpdateStack's parameters and "No updates"; parameter validation;
                       change sets (computed over time, executed once, ExecuteChangeSet's
                       token and timeline, the others deleted or OBSOLETE, found by ARN,
                       listed per stack, FAILED without changes); DELETE_FAILED on demand
    changesets.py      what a change set lists: Add/Remove/Modify with Replacement, Scope and
                       Details (ParameterReference, ResourceReference, DirectModification, ...),
                       and with IncludePropertyValues each changed property's Path and values
    templates.py       TemplateURL read as CloudFormation reads it (path-style, virtual-hosted,
                       versionId); capabilities required, and listed by GetTemplateSummary
    awslambda.py       S3ObjectVersion; RevisionId and PublishVersion's preconditions; version
                       numbers never handed out twice; DeleteFunction refused for a replicated
                       Lambda@Edge version; ListAliases by ARN and FunctionVersion; a version an alias
                       references refused to DeleteFunction;
                       AWS::Lambda::Version's ARN; dead-letter queue and architectures; the
                       Lambda@Edge-forbidden settings (tracing, ephemeral storage, KMS key,
                       runtime management, provisioned concurrency)
    auth.py            InvalidClientTokenId and SignatureDoesNotMatch in the awsQuery/restXml
                       error shape (authentication is off unless turned on)
    s3.py              GetBucketVersioning's XML; ExpectedBucketOwner; 403 for a missing key
                       to a caller without s3:ListBucket
    cloudwatch.py      GetMetricStatistics/GetMetricData matching the dimension set exactly (and the
                       namespace), periods from the rounded StartTime, Period checked; ListMetrics
                       lists each metric once
    cbor.py            the Smithy RPC v2 CBOR protocol (CloudWatch's in the AWS SDK for Rust),
                       translated to and from the JSON protocol moto serves
    clock.py           the settings, the time scale and the durations
    control.py         the control API (/_emulator/) and the server that carries it

Importing this package is cheap; `install()` imports moto and applies everything, once.
"""

from __future__ import annotations

import logging
import os

MOTO_VERSION = "5.2.5"  # the release whose internals the extensions were written against

log = logging.getLogger("emulator")
_installed = False


class MotoVersionError(RuntimeError):
    pass


def check_moto_version(found: str) -> None:
    """Another moto than the pinned one is an error under CI (the environment variable CI set), a
    warning elsewhere: the patches reach into moto's internals."""
    if found == MOTO_VERSION:
        return
    message = (
        f"moto {found} found, the emulator's patches were written for {MOTO_VERSION} "
        "(tests/emulator/requirements.txt pins it; run scripts/setup-emulator)"
    )
    if os.environ.get("CI"):
        raise MotoVersionError(message)
    log.warning("%s", message)


def install() -> None:
    """Imports moto and applies every extension, once per process."""
    global _installed
    if _installed:
        return
    import moto

    check_moto_version(moto.__version__)
    from . import (associations, auth, awslambda, cbor, cloudformation, cloudfront, cloudwatch, continuous, s3,
                   templates)

    cloudfront.install()
    continuous.install()  # after cloudfront: its checks come before a distribution changes
    associations.install()  # after both: it records the changes that happened
    awslambda.install()
    cloudformation.install()
    templates.install()  # after cloudformation: its checks come before an operation starts
    s3.install()
    cloudwatch.install()
    cbor.install()
    auth.install()
    _install_edge()
    _installed = True


def _install_edge() -> None:
    """edge.py (the edge stand-in, beside this package) follows UpdateDistribution from the start
    if it is there; POST /_emulator/edge imports it otherwise, on first use."""
    import importlib.util

    if importlib.util.find_spec("edge") is not None:
        import edge

        edge.install()


def server(host: str = "127.0.0.1", port: int = 0) -> object:
    """A started emulator server (moto's ThreadedMotoServer with the control API) on a thread of
    this process; `.get_host_and_port()`, `.stop()`."""
    install()
    from .control import make_server_class

    instance = make_server_class()(ip_address=host, port=port, verbose=False)
    instance.start()
    return instance
