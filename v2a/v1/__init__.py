"""Generated gRPC stubs of the v2a.v1 wire contract (proto/v2a/v1). Regenerate with
scripts/gen_proto.sh; never edit the *_pb2* files by hand."""
