"""ARM access: clients from Settings (`client`) and pure resource-ID helpers (`ids`)."""
