"""Front doors beyond chat completions: each translates its wire format to the gateway's path."""
