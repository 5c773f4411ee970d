"""Errors that become gRPC statuses with google.rpc details, saying what and where."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


class ServiceError(Exception):
    """Raised by server logic; the service turns it into a status with details."""

    def __init__(self, code: grpc.StatusCode, message: str, details: tuple[Message, ...] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_status(self) -> grpc.Status:
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        for detail in self.details:
            packed = any_pb2.Any()
            packed.Pack(detail)
            status.details.append(packed)
        return rpc_status.to_status(status)


def invalid_argument(message: str, violations: list[tuple[str, str]]) -> ServiceError:
    """`violations`: (field, description) pairs; field is a request path or a file/clip name."""
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
            for f, d in violations
        ]
    )
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, message, (bad,))


def not_found(resource_type: str, name: str, description: str) -> ServiceError:
    info = error_details_pb2.ResourceInfo(
        resource_type=resource_type, resource_name=name, description=description
    )
    return ServiceError(grpc.StatusCode.NOT_FOUND, f"{resource_type} {name!r}: {description}", (info,))


def already_exists(resource_type: str, name: str, message: str) -> ServiceError:
    info = error_details_pb2.ResourceInfo(resource_type=resource_type, resource_name=name,
                                          description=message)
    return ServiceError(grpc.StatusCode.ALREADY_EXISTS, message, (info,))


def failed_precondition(message: str, violations: list[tuple[str, str, str]]) -> ServiceError:
    """`violations`: (type, subject, description), e.g. ("MEDIA_OFFLINE", clip id, path)."""
    failure = error_details_pb2.PreconditionFailure(
        violations=[
            error_details_pb2.PreconditionFailure.Violation(type=t, subject=s, description=d)
            for t, s, d in violations
        ]
    )
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, message, (failure,))


def resource_exhausted(message: str, retry_seconds: int = 5) -> ServiceError:
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.seconds = retry_seconds
    return ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, message, (retry,))


def details_of(error: grpc.RpcError) -> list[Message]:
    """The google.rpc details a client received with an error (unpacked)."""
    status = rpc_status.from_call(error)
    if status is None:
        return []
    known = (error_details_pb2.BadRequest, error_details_pb2.ResourceInfo,
             error_details_pb2.PreconditionFailure, error_details_pb2.RetryInfo)
    out: list[Message] = []
    for packed in status.details:
        for kind in known:
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                out.append(message)
    return out


assert code_pb2.INVALID_ARGUMENT == grpc.StatusCode.INVALID_ARGUMENT.value[0]
