"""Small pieces shared across the package."""
