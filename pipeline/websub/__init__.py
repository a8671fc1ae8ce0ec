"""YouTube's WebSub subscriptions: the leases the hub granted (`leases`) and the hub's
subscribe API (`hub`); `pipeline.pollers.websub` keeps each channel subscribed."""
