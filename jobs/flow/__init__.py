"""Flow control: limits declared on jobs (`limits`), and what the gates hold now."""
