import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class JobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_KIND_UNSPECIFIED: _ClassVar[JobKind]
    JOB_KIND_GENERATE: _ClassVar[JobKind]
    JOB_KIND_REGENERATE: _ClassVar[JobKind]

class ClipState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIP_STATE_UNSPECIFIED: _ClassVar[ClipState]
    CLIP_STATE_QUEUED: _ClassVar[ClipState]
    CLIP_STATE_RUNNING: _ClassVar[ClipState]
    CLIP_STATE_DONE: _ClassVar[ClipState]
    CLIP_STATE_FAILED: _ClassVar[ClipState]
    CLIP_STATE_SKIPPED: _ClassVar[ClipState]
    CLIP_STATE_CANCELLED: _ClassVar[ClipState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_KIND_UNSPECIFIED: JobKind
JOB_KIND_GENERATE: JobKind
JOB_KIND_REGENERATE: JobKind
CLIP_STATE_UNSPECIFIED: ClipState
CLIP_STATE_QUEUED: ClipState
CLIP_STATE_RUNNING: ClipState
CLIP_STATE_DONE: ClipState
CLIP_STATE_FAILED: ClipState
CLIP_STATE_SKIPPED: ClipState
CLIP_STATE_CANCELLED: ClipState

class TimelineSource(_message.Message):
    __slots__ = ("inline_data", "path", "format", "file_name", "media_search_paths", "adapter_options")
    class AdapterOptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INLINE_DATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    MEDIA_SEARCH_PATHS_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    inline_data: bytes
    path: str
    format: str
    file_name: str
    media_search_paths: _containers.RepeatedScalarFieldContainer[str]
    adapter_options: _containers.ScalarMap[str, str]
    def __init__(self, inline_data: _Optional[bytes] = ..., path: _Optional[str] = ..., format: _Optional[str] = ..., file_name: _Optional[str] = ..., media_search_paths: _Optional[_Iterable[str]] = ..., adapter_options: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ClipAddress(_message.Message):
    __slots__ = ("clip_id", "track", "record_time")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    RECORD_TIME_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    track: str
    record_time: float
    def __init__(self, clip_id: _Optional[str] = ..., track: _Optional[str] = ..., record_time: _Optional[float] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start_seconds", "end_seconds")
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    start_seconds: float
    end_seconds: float
    def __init__(self, start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ...) -> None: ...

class Selection(_message.Message):
    __slots__ = ("tracks", "clips", "time_range")
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    tracks: _containers.RepeatedScalarFieldContainer[str]
    clips: _containers.RepeatedCompositeFieldContainer[ClipAddress]
    time_range: TimeRange
    def __init__(self, tracks: _Optional[_Iterable[str]] = ..., clips: _Optional[_Iterable[_Union[ClipAddress, _Mapping]]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ...) -> None: ...

class GenerationParams(_message.Message):
    __slots__ = ("prompt", "negative_prompt", "seed", "steps", "guidance", "takes", "loudness_target_lufs")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROMPT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_FIELD_NUMBER: _ClassVar[int]
    TAKES_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_TARGET_LUFS_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    takes: int
    loudness_target_lufs: float
    def __init__(self, prompt: _Optional[str] = ..., negative_prompt: _Optional[str] = ..., seed: _Optional[int] = ..., steps: _Optional[int] = ..., guidance: _Optional[float] = ..., takes: _Optional[int] = ..., loudness_target_lufs: _Optional[float] = ...) -> None: ...

class OutputSpec(_message.Message):
    __slots__ = ("folder", "format")
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    folder: str
    format: str
    def __init__(self, folder: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class ClipProgress(_message.Message):
    __slots__ = ("clip_id", "clip_name", "state", "step", "total_steps", "media_path", "message", "take", "take_count")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    CLIP_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TAKE_FIELD_NUMBER: _ClassVar[int]
    TAKE_COUNT_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    clip_name: str
    state: ClipState
    step: int
    total_steps: int
    media_path: str
    message: str
    take: int
    take_count: int
    def __init__(self, clip_id: _Optional[str] = ..., clip_name: _Optional[str] = ..., state: _Optional[_Union[ClipState, str]] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., media_path: _Optional[str] = ..., message: _Optional[str] = ..., take: _Optional[int] = ..., take_count: _Optional[int] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "kind", "state", "create_time", "update_time", "timeline_path", "output_folder", "selection", "params", "clips", "message", "result_timeline_path", "parent_job_id", "attempts", "request_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_PATH_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FOLDER_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_TIMELINE_PATH_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    kind: JobKind
    state: JobState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    timeline_path: str
    output_folder: str
    selection: Selection
    params: GenerationParams
    clips: _containers.RepeatedCompositeFieldContainer[ClipProgress]
    message: str
    result_timeline_path: str
    parent_job_id: str
    attempts: int
    request_id: str
    def __init__(self, job_id: _Optional[str] = ..., kind: _Optional[_Union[JobKind, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeline_path: _Optional[str] = ..., output_folder: _Optional[str] = ..., selection: _Optional[_Union[Selection, _Mapping]] = ..., params: _Optional[_Union[GenerationParams, _Mapping]] = ..., clips: _Optional[_Iterable[_Union[ClipProgress, _Mapping]]] = ..., message: _Optional[str] = ..., result_timeline_path: _Optional[str] = ..., parent_job_id: _Optional[str] = ..., attempts: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class WaveformPeaks(_message.Message):
    __slots__ = ("sample_rate", "num_samples", "min", "max")
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    sample_rate: int
    num_samples: int
    min: _containers.RepeatedScalarFieldContainer[float]
    max: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, sample_rate: _Optional[int] = ..., num_samples: _Optional[int] = ..., min: _Optional[_Iterable[float]] = ..., max: _Optional[_Iterable[float]] = ...) -> None: ...

class ClipResult(_message.Message):
    __slots__ = ("clip_id", "clip_name", "media_path", "start_sample", "num_samples", "handle_before_samples", "handle_after_samples", "peaks", "provenance_json")
    CLIP_ID_FIELD_NUMBER: _ClassVar[int]
    CLIP_NAME_FIELD_NUMBER: _ClassVar[int]
    MEDIA_PATH_FIELD_NUMBER: _ClassVar[int]
    START_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    HANDLE_BEFORE_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    HANDLE_AFTER_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    PEAKS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_JSON_FIELD_NUMBER: _ClassVar[int]
    clip_id: str
    clip_name: str
    media_path: str
    start_sample: int
    num_samples: int
    handle_before_samples: int
    handle_after_samples: int
    peaks: WaveformPeaks
    provenance_json: str
    def __init__(self, clip_id: _Optional[str] = ..., clip_name: _Optional[str] = ..., media_path: _Optional[str] = ..., start_sample: _Optional[int] = ..., num_samples: _Optional[int] = ..., handle_before_samples: _Optional[int] = ..., handle_after_samples: _Optional[int] = ..., peaks: _Optional[_Union[WaveformPeaks, _Mapping]] = ..., provenance_json: _Optional[str] = ...) -> None: ...
