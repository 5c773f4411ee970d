from v2a.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("version", "model_name", "checkpoint_hash", "input_formats", "output_formats", "sample_rate", "capabilities", "output_roots", "concurrency", "queue_size", "input_timeline_formats", "output_timeline_formats")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_HASH_FIELD_NUMBER: _ClassVar[int]
    INPUT_FORMATS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMATS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ROOTS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    INPUT_TIMELINE_FORMATS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TIMELINE_FORMATS_FIELD_NUMBER: _ClassVar[int]
    version: str
    model_name: str
    checkpoint_hash: str
    input_formats: _containers.RepeatedScalarFieldContainer[str]
    output_formats: _containers.RepeatedScalarFieldContainer[str]
    sample_rate: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    output_roots: _containers.RepeatedScalarFieldContainer[str]
    concurrency: int
    queue_size: int
    input_timeline_formats: _containers.RepeatedCompositeFieldContainer[TimelineFormat]
    output_timeline_formats: _containers.RepeatedCompositeFieldContainer[TimelineFormat]
    def __init__(self, version: _Optional[str] = ..., model_name: _Optional[str] = ..., checkpoint_hash: _Optional[str] = ..., input_formats: _Optional[_Iterable[str]] = ..., output_formats: _Optional[_Iterable[str]] = ..., sample_rate: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ..., output_roots: _Optional[_Iterable[str]] = ..., concurrency: _Optional[int] = ..., queue_size: _Optional[int] = ..., input_timeline_formats: _Optional[_Iterable[_Union[TimelineFormat, _Mapping]]] = ..., output_timeline_formats: _Optional[_Iterable[_Union[TimelineFormat, _Mapping]]] = ...) -> None: ...

class TimelineFormat(_message.Message):
    __slots__ = ("name", "extensions", "label")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    extensions: _containers.RepeatedScalarFieldContainer[str]
    label: str
    def __init__(self, name: _Optional[str] = ..., extensions: _Optional[_Iterable[str]] = ..., label: _Optional[str] = ...) -> None: ...

class CreateJobRequest(_message.Message):
    __slots__ = ("timeline", "selection", "params", "output", "request_id")
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    timeline: _jobs_pb2.TimelineSource
    selection: _jobs_pb2.Selection
    params: _jobs_pb2.GenerationParams
    output: _jobs_pb2.OutputSpec
    request_id: str
    def __init__(self, timeline: _Optional[_Union[_jobs_pb2.TimelineSource, _Mapping]] = ..., selection: _Optional[_Union[_jobs_pb2.Selection, _Mapping]] = ..., params: _Optional[_Union[_jobs_pb2.GenerationParams, _Mapping]] = ..., output: _Optional[_Union[_jobs_pb2.OutputSpec, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "states")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[_jobs_pb2.JobState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_jobs_pb2.JobState, str]]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_jobs_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ("job_id", "job_state", "clip", "message")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_STATE_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    job_state: _jobs_pb2.JobState
    clip: _jobs_pb2.ClipProgress
    message: str
    def __init__(self, job_id: _Optional[str] = ..., job_state: _Optional[_Union[_jobs_pb2.JobState, str]] = ..., clip: _Optional[_Union[_jobs_pb2.ClipProgress, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class RegenerateClipRequest(_message.Message):
    __slots__ = ("job_id", "clip", "seed", "prompt", "negative_prompt", "request_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROMPT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    clip: _jobs_pb2.ClipAddress
    seed: int
    prompt: str
    negative_prompt: str
    request_id: str
    def __init__(self, job_id: _Optional[str] = ..., clip: _Optional[_Union[_jobs_pb2.ClipAddress, _Mapping]] = ..., seed: _Optional[int] = ..., prompt: _Optional[str] = ..., negative_prompt: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RegenerateClipResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobResultRequest(_message.Message):
    __slots__ = ("job_id", "peak_points", "include_timeline_data", "clip_ids")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PEAK_POINTS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TIMELINE_DATA_FIELD_NUMBER: _ClassVar[int]
    CLIP_IDS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    peak_points: int
    include_timeline_data: bool
    clip_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_id: _Optional[str] = ..., peak_points: _Optional[int] = ..., include_timeline_data: _Optional[bool] = ..., clip_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetJobResultResponse(_message.Message):
    __slots__ = ("job", "timeline_path", "timeline_format", "timeline_data", "fallback_otio_path", "format_note", "clips")
    JOB_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_PATH_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_DATA_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_OTIO_PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_NOTE_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    timeline_path: str
    timeline_format: str
    timeline_data: bytes
    fallback_otio_path: str
    format_note: str
    clips: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.ClipResult]
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ..., timeline_path: _Optional[str] = ..., timeline_format: _Optional[str] = ..., timeline_data: _Optional[bytes] = ..., fallback_otio_path: _Optional[str] = ..., format_note: _Optional[str] = ..., clips: _Optional[_Iterable[_Union[_jobs_pb2.ClipResult, _Mapping]]] = ...) -> None: ...
