"""Small plugins written for the tests, each using only the public plugin interface."""
