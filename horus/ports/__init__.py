"""The interfaces the domain needs from the outside world, as typing.Protocols shaped by the use cases."""
