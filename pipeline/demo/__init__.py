"""The local demo `make run` adds: a Hootsuite simulator with moving messages, a receiver that
prints signed deliveries, and the instance and subscription that connect them."""
