"""What tests share: fixture builders and helpers. Test modules import from here, never from each other."""
