"""The verdict on an understood message: which brands it names or imitates, which rules fire, the category they
lead to, and the campaign it belongs to. Pure and offline, like signalement.mail."""
