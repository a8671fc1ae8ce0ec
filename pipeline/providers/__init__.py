"""One module per provider: its signature, its payload, and its mapping to the common schema."""
