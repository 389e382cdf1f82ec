/// The alert engine: YAML rules, per-(rule, series) state machines, and delivery to control rooms.
public enum Alerts {}
