"""The gRPC server editor panels call: jobs with progress, cancel and clip regeneration.

- `service.py`  the V2AService RPCs (thin: validate, convert, delegate)
- `jobs.py`     the SQLite job store that survives restarts
- `worker.py`   the bounded queue and the worker threads that run the pipeline
- `events.py`   per-job progress fan-out to WatchJob streams
- `auth.py`     the bearer token on TCP
- `paths.py`    where the server may write
- `errors.py`   status codes with google.rpc details
- `convert.py`  wire messages <-> the server's records, waveform peaks
- `ws_bridge.py` the WebSocket/JSON bridge for UXP panels (no HTTP/2 gRPC there)
- `server.py`   wiring, health, reflection, signals; `cli.py` the `v2a serve` / `v2a client` commands
- `client.py`   the Python client library
"""
