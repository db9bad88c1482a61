namespace StorSharp.Port;

/// <summary>
/// An intrusive doubly linked list of SRBs threaded through <see cref="Srb.QueueNext"/> and
/// <see cref="Srb.QueuePrev"/>: queueing and dequeueing allocate nothing. An SRB is on at most
/// one list at a time. Not thread-safe: the owning LU's lock guards it.
/// </summary>
internal struct SrbList
{
    public Srb? First;
    public Srb? Last;
    public int Count;

    public void AddLast(Srb srb)
    {
        srb.QueueNext = null;
        srb.QueuePrev = Last;
        if (Last is null) First = srb; else Last.QueueNext = srb;
        Last = srb;
        Count++;
    }

    public void AddFirst(Srb srb)
    {
        srb.QueuePrev = null;
        srb.QueueNext = First;
        if (First is null) Last = srb; else First.QueuePrev = srb;
        First = srb;
        Count++;
    }

    public void Remove(Srb srb)
    {
        if (srb.QueuePrev is null) First = srb.QueueNext; else srb.QueuePrev.QueueNext = srb.QueueNext;
        if (srb.QueueNext is null) Last = srb.QueuePrev; else srb.QueueNext.QueuePrev = srb.QueuePrev;
        srb.QueueNext = srb.QueuePrev = null;
        Count--;
    }

    public bool Contains(Srb srb)
    {
        for (var s = First; s is not null; s = s.QueueNext) if (ReferenceEquals(s, srb)) return true;
        return false;
    }

    /// <summary>Empties the list into <paramref name="into"/>, keeping order.</summary>
    public void MoveAllTo(List<Srb> into)
    {
        for (var s = First; s is not null;)
        {
            var next = s.QueueNext;
            s.QueueNext = s.QueuePrev = null;
            into.Add(s);
            s = next;
        }
        First = Last = null;
        Count = 0;
    }
}
