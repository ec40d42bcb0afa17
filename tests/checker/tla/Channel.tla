-------------------------------- MODULE Channel --------------------------------
(* Stop-and-wait over a channel that loses messages and acknowledgements. The   *)
(* sender (re)sends message acked + 1 whenever the one-slot channel is empty;   *)
(* the receiver takes it and answers with an ack; the sender takes the ack.     *)
(* Losses are faults and never fair. Weak fairness on delivery is not enough:  *)
(* a message lost every time is never continuously deliverable. Strong          *)
(* fairness on delivery is.                                                     *)
EXTENDS Naturals
CONSTANT N
VARIABLES acked, chan, ack, received
vars == <<acked, chan, ack, received>>

Init == acked = 0 /\ chan = 0 /\ ack = 0 /\ received = 0
Send == acked < N /\ chan = 0 /\ chan' = acked + 1 /\ UNCHANGED <<acked, ack, received>>
Receive == chan # 0 /\ received' = chan /\ ack' = chan /\ chan' = 0 /\ UNCHANGED acked
GetAck == ack # 0 /\ acked' = ack /\ ack' = 0 /\ UNCHANGED <<chan, received>>
LoseMsg == chan # 0 /\ chan' = 0 /\ UNCHANGED <<acked, ack, received>>
LoseAck == ack # 0 /\ ack' = 0 /\ UNCHANGED <<acked, chan, received>>
Next == Send \/ Receive \/ GetAck \/ LoseMsg \/ LoseAck

Spec == Init /\ [][Next]_vars
SpecWF == Spec /\ WF_vars(Send) /\ WF_vars(Receive) /\ WF_vars(GetAck)
SpecSF == Spec /\ WF_vars(Send) /\ SF_vars(Receive) /\ SF_vars(GetAck)

Delivered == <>(acked = N)
================================================================================
