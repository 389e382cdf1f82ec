/// HTTP push receivers for the NB-IoT carrier platforms (CTWing, OneNET).
public enum PushIngest {}
