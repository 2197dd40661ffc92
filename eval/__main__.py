from .cli import main

if __name__ == "__main__":  # a worker process (ingest.worker, multiprocessing) imports this module without running it
    raise SystemExit(main())
