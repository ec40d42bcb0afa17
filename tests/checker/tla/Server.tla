-------------------------------- MODULE Server --------------------------------
(* Clients ask, a server serves one pending request at a time, a client may    *)
(* ask again once served. Weak fairness on serving as a whole lets the server  *)
(* serve the same client for ever while another waits; weak fairness on        *)
(* serving each client does not.                                               *)
EXTENDS Naturals
CONSTANT Clients
VARIABLES pending, served
vars == <<pending, served>>

Init == pending = {} /\ served = [c \in Clients |-> 0]
Request(c) == c \notin pending /\ pending' = pending \cup {c} /\ UNCHANGED served
Serve(c) == c \in pending /\ pending' = pending \ {c}
            /\ served' = [served EXCEPT ![c] = (@ + 1) % 3]
Next == \E c \in Clients : Request(c) \/ Serve(c)

Spec == Init /\ [][Next]_vars
SpecWF == Spec /\ WF_vars(\E c \in Clients : Serve(c))
SpecWFEach == Spec /\ \A c \in Clients : WF_vars(Serve(c))

Answered == \A c \in Clients : c \in pending ~> c \notin pending
================================================================================
