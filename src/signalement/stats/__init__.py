"""Statistics and peak alerts for members (issue 10): counting, alerts, customers' views, cases."""
