"""The soak, `make soak` (`python -m bench soak …`): rounds of SIGKILL + restart under load, every
accepted event accounted for on the topics; entry point `bench.soak.main.main`."""
