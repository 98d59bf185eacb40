"""One router per feature; ``bot.app`` includes them in the order people pass through them."""
