#!/usr/bin/env python3
"""Submit a song to a jukebox-dist coordinator, watch it, and fetch its WAV: a plain grpcio client.

The stubs are generated from the repository's .proto files (Debian: apt-get install python3-grpcio
protobuf-compiler protobuf-compiler-grpc; or pip install grpcio grpcio-tools and use
`python -m grpc_tools.protoc` with --grpc_python_out instead of the plugin):

    protoc -I proto --python_out=gen --grpc_out=gen \
        --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
        jukebox/v1/common.proto jukebox/v1/coordinator.proto
    PYTHONPATH=gen python3 docs/examples/python_client.py --coordinator 127.0.0.1:50051 \
        --seconds 10 --artist tiny_ensemble --genre jazz --out song.wav

It prints one line per update on stderr and a JSON summary on stdout. tests/python-client.test.ts runs it.
"""
import argparse
import json
import sys

import grpc

from jukebox.v1 import coordinator_pb2 as pb
from jukebox.v1 import coordinator_pb2_grpc as rpc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--coordinator", default="127.0.0.1:50051")
    p.add_argument("--model", default="", help='model id; "" = the one the coordinator serves')
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--seed", default="", help='decimal uint64; "" = 0')
    p.add_argument("--artist", default="", help='"" = the model\'s unknown artist')
    p.add_argument("--genre", action="append", default=[])
    p.add_argument("--lyrics", default="")
    p.add_argument("--out", required=True, help="where to write the WAV of sample row 0")
    args = p.parse_args()

    with grpc.insecure_channel(args.coordinator) as channel:
        stub = rpc.CoordinatorStub(channel)

        # What the model accepts: refuse an unknown artist here, with the model's own list to choose from.
        models = stub.ListModels(pb.ListModelsRequest(model=args.model), timeout=30).models
        model = models[0]
        if args.artist and args.artist.lower() not in model.artists:
            print(f"artist {args.artist!r} is not one of {model.model}'s: {', '.join(model.artists[:10])} ...", file=sys.stderr)

        # Submit. Omitted fields (samples, seed, sampling, mode, priority) take the documented defaults, which
        # the answer's `request` echoes.
        try:
            job = stub.SubmitJob(
                pb.SubmitJobRequest(
                    model=args.model,
                    artist=args.artist,
                    genres=args.genre,
                    lyrics=args.lyrics,
                    duration_seconds=args.seconds,
                    seed=args.seed,
                ),
                timeout=30,
            )
        except grpc.RpcError as err:
            # INVALID_ARGUMENT names the field; RESOURCE_EXHAUSTED and UNAVAILABLE are worth retrying later.
            print(f"SubmitJob: {err.code().name}: {err.details()}", file=sys.stderr)
            return 2
        print(f"submitted {job.job_id}: {job.request.samples} row(s), seed {job.request.seed}", file=sys.stderr)

        # Watch: the job now, then every change until it ends. Each message holds the job as it is.
        states = []
        last = job
        for event in stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id)):
            last = event.job
            state = pb.JobState.Name(last.state)
            if not states or states[-1] != state:
                states.append(state)
            eta = f", ETA {last.eta_seconds:.0f} s" if last.HasField("eta_seconds") else ""
            print(f"{state} {last.progress:.0%} ({last.decoded_seconds:.1f} s decoded{eta})", file=sys.stderr)
        if last.state != pb.JOB_STATE_SUCCEEDED:
            print(f"job {pb.JobState.Name(last.state)}: {pb.JobErrorCode.Name(last.failure.code)}: {last.failure.message}", file=sys.stderr)
            return 1

        # Fetch: the WAV in chunks, each with its offset in the file.
        size = 0
        with open(args.out, "wb") as f:
            for chunk in stub.FetchAudio(pb.FetchAudioRequest(job_id=job.job_id, sample=0)):
                assert chunk.offset == size
                f.write(chunk.data)
                size += len(chunk.data)

        print(json.dumps({
            "job": job.job_id,
            "states": states,
            "progress": last.progress,
            "seconds": last.total_samples / last.sample_rate,
            "created_at_ms": last.created_at_ms,
            "finished_at_ms": last.finished_at_ms,
            "bytes": size,
            "out": args.out,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
