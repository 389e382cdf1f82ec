/// NB-IoT ingest over UDP: a CoAP server (RFC 7252, Block1 of RFC 7959) and plain UDP datagrams.
public enum CoAPIngest {}
